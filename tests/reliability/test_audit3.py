"""Third reliability audit (issue 23): each case named, each fails on the code before the fix
(a record overwritten, a path escaping the results folder, a hang on a FIFO, a traceback …)."""

from __future__ import annotations

import pytest
from audit_cases import (
    ARTIFACT_CASES,
    EDGE_CASES,
    LAYOUT_CASES,
    LLM_CASES,
    LOCK_CASES,
    judge,
)


@pytest.mark.parametrize("case", LAYOUT_CASES, ids=[c.name for c in LAYOUT_CASES])
def test_results_layout_case(case, tmp_path):
    assert judge(case, tmp_path, timeout=60) == case.expected


@pytest.mark.parametrize("case", ARTIFACT_CASES, ids=[c.name for c in ARTIFACT_CASES])
def test_saved_artifact_case(case, tmp_path):
    assert judge(case, tmp_path, timeout=60) == case.expected


@pytest.mark.parametrize("case", EDGE_CASES, ids=[c.name for c in EDGE_CASES])
def test_edge_case(case, tmp_path):
    assert judge(case, tmp_path, timeout=60) == case.expected


@pytest.mark.parametrize("case", LOCK_CASES, ids=[c.name for c in LOCK_CASES])
def test_run_lock_case(case, tmp_path):
    assert judge(case, tmp_path, timeout=90) == case.expected


@pytest.mark.parametrize("case", LLM_CASES, ids=[c.name for c in LLM_CASES])
def test_llm_case(case, tmp_path):
    assert judge(case, tmp_path, timeout=60) == case.expected
