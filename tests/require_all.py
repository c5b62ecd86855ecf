"""Pytest plugin: under ``NOTEBOOK_TRACKER_REQUIRE_ALL=1`` a skipped test is a failed test.

CI sets the variable so that a missing service (PostgreSQL, S3, Chromium, ...) cannot hide
behind a green run. Every way of skipping ends in a skipped report, so the reports are
rewritten here rather than each skip call: ``pytest.skip``, ``pytest.importorskip``, the
``skip``/``skipif`` markers and module-level skips during collection alike. Expected
failures (``xfail``) are left alone: they ran.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import require_all_enabled

from notebook_tracker import env


def _skip_reason(longrepr: Any) -> str:
    # A skip's longrepr is (path, lineno, "Skipped: reason"); anything else is shown as is.
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _as_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    report.outcome = "failed"
    report.longrepr = (
        f"{env.REQUIRE_ALL}=1 turns this skip into a failure: {_skip_reason(report.longrepr)}\n"
        "Start the missing service (bash .ci/run does) or install what the test needs."
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and require_all_enabled():
        _as_failure(report)
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    if report.skipped and require_all_enabled():
        _as_failure(report)
    return report
