"""Third reliability audit (issue 23): each case named, each fails on the code before the fix
(a record overwritten, a path escaping the results folder, a hang on a FIFO, a tampered model
loaded, a traceback at an OS error, two grids training the same run, an LLM endpoint outlasting
its timeout …). The cases live in audit_cases.py, shared with bench/reliability.py."""

from __future__ import annotations

import pytest
from audit_cases import AUDIT_CASES, judge
from loghub import loghub_file


@pytest.mark.parametrize("case", AUDIT_CASES, ids=[c.name for c in AUDIT_CASES])
def test_audit_case(case, tmp_path):
    if case.sample is not None:
        loghub_file(case.sample)  # skips, naming the fetch command, when it is missing
    assert judge(case, tmp_path, timeout=90) == case.expected
