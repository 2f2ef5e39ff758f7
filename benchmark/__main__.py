"""`python -m benchmark {describe,download,models,parse}`: dataset and registry commands."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    from benchmark.data import describe, download, parse_command

    describe.add_arguments(commands.add_parser("describe", help=describe.__doc__.splitlines()[0]))
    download.add_arguments(commands.add_parser("download", help=download.__doc__.splitlines()[0]))
    commands.add_parser("models", help="list registered models with one-line descriptions")
    parse_command.add_arguments(commands.add_parser("parse",
                                                    help=parse_command.__doc__.splitlines()[0]))

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.command == "models":
        from benchmark.registry import describe_model, list_models

        names = list_models()
        width = max(map(len, names), default=0)
        for name in names:
            print(f"{name:<{width}}  {describe_model(name)}")
        return 0
    command = {"describe": describe, "download": download, "parse": parse_command}[args.command]
    return command.run(args)


if __name__ == "__main__":
    sys.exit(main())
