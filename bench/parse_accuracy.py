"""Grouping accuracy (GA) of our parse vs plain drain3 on every Loghub 2k sample with ground truth.

    python bench/parse_accuracy.py [--loghub DIR]

For each `<sample>.log` in the Loghub 2k directory (default ../shared/data/loghub-2k) that has a
`<sample>.log_structured.csv`, with the card its name maps to (BGL → bgl, Zookeeper → zookeeper,
Thunderbird → spirit): GA and number of templates of
  ours   the pipeline's read and parse stages (`parse_log`, the card's masking, de-duplication,
         drain3 over distinct masked contents), and
  plain  drain3 `TemplateMiner.add_log_message` on every line's content (same reader), no masking,
         the card's Drain settings,
beside the number of ground-truth templates. A sample with no card is listed and skipped.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

LOGHUB = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub-2k"
CARD_OF = {"BGL": "bgl", "Zookeeper": "zookeeper", "Thunderbird": "spirit"}


def plain_drain3(card_name: str, log_path: Path) -> list[int]:
    """Cluster id of each line under plain drain3 streaming (no masking, the card's Drain)."""
    from drain3 import TemplateMiner

    from benchmark.data.cards import load_card
    from benchmark.data.parsing import drain3_config
    from benchmark.data.readers import read_all

    card = load_card(card_name)
    contents = read_all(log_path, card.format, label_rule=card.label_rule,
                        anomalous_levels=card.anomalous_levels)[0]
    logging.getLogger("drain3").setLevel(logging.WARNING)
    miner = TemplateMiner(config=drain3_config(card.drain, ()))
    clusters = [miner.add_log_message(c)["cluster_id"] for c in contents.to_pylist()]
    final = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return [final[c] for c in clusters]  # clusters with the same final text are one template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loghub", type=Path, default=LOGHUB, help="Loghub 2k directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from benchmark.data.grouping import grouping_accuracy, read_event_ids
    from benchmark.data.pipeline import parse_log

    samples = sorted(args.loghub.glob("*.log_structured.csv"))
    if not samples:
        print(f"error: no *.log_structured.csv in {args.loghub}", file=sys.stderr)
        return 2
    print(f"{'sample':<14} {'card':<10} {'lines':>6} {'GA ours':>8} {'tmpl':>5} "
          f"{'GA plain':>8} {'tmpl':>5} {'truth tmpl':>10}")
    with tempfile.TemporaryDirectory(prefix="parse-accuracy-") as cache_dir:
        for truth in samples:
            log_path = truth.with_name(truth.name.removesuffix("_structured.csv"))
            sample = log_path.stem
            card = CARD_OF.get(sample.split("_")[0])
            if card is None:
                print(f"{sample:<14} (no card for this sample; skipped)")
                continue
            ours, texts = parse_log(card, data_file=log_path, data_dir=Path(cache_dir))
            events = read_event_ids(truth, len(ours))
            plain = plain_drain3(card, log_path)
            print(f"{sample:<14} {card:<10} {len(ours):>6} "
                  f"{grouping_accuracy(ours.tolist(), events):>8.4f} {len(texts):>5} "
                  f"{grouping_accuracy(plain, events):>8.4f} {len(set(plain)):>5} "
                  f"{len(set(events)):>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
