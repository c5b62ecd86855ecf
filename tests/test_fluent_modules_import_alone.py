"""`fluent` is split into modules that it re-exports (fluent_read, fluent_records); a program
or a tool (a test runner, a doc builder) may import any of them first, on its own."""

from __future__ import annotations

import pytest
from helpers import run_fresh_python

IMPORT_ALONE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
import notebook_tracker.fluent as fluent
print(json.dumps([name for name in sys.argv[2].split(",") if not callable(getattr(fluent, name))]))
"""


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("notebook_tracker.fluent_read", "flush,get_run,search_runs,delete_run"),
        ("notebook_tracker.fluent_records", "log_param,set_tag,log_text,log_artifact"),
    ],
)
def test_a_fluent_part_imported_first_leaves_the_fluent_api_whole(module: str, names: str) -> None:
    assert run_fresh_python(IMPORT_ALONE, module, names) == []
