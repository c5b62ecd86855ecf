"""cloudpickle shaped as a `pickle_module` for `torch.save`: torch calls `Pickler`, which must
be cloudpickle's (so classes defined in a notebook are saved by value), and `Unpickler`, which
cloudpickle does not export (plain pickle reads its output)."""

from __future__ import annotations

from pickle import Unpickler, load, loads  # noqa: F401

from cloudpickle import CloudPickler as Pickler  # noqa: F401
from cloudpickle import dump, dumps  # noqa: F401
