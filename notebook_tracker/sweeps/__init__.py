"""Sweeps: a tracked cell, a function or a project run over a search space by Optuna, in
parallel on local processes, any concurrent.futures executor or Dask (docs/sweeps.md).

Optuna (and Dask, for clusters) load only when a sweep starts; both come with
`pip install 'notebook-tracker[sweeps]'`.
"""

from __future__ import annotations

from notebook_tracker.sweeps.api import sweep
from notebook_tracker.sweeps.driver import SweepResult
from notebook_tracker.sweeps.space import Space, SpaceError, parse_space
from notebook_tracker.sweeps.trial import TrialPruned

__all__ = ["Space", "SpaceError", "SweepResult", "TrialPruned", "parse_space", "sweep"]
