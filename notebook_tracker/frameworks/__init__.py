"""Framework integrations: autologging (and the `nt.<framework>` namespaces).

How an integration registers itself
-----------------------------------
Write a module `notebook_tracker/frameworks/<name>.py` that defines:

- `NAME = "<name>"`, and `MODULES = ("keras",)`: the top-level modules whose import (or any
  submodule's) calls `patch`; nothing of the framework is imported before that.
- `OPTIONS = {"log_every_n_epoch": 1, ...}`: framework-specific options with their defaults;
  the common ones (`log_models`, `log_input_examples`, `log_model_signatures`, `log_datasets`,
  `exclusive`, `silent`) come from `autolog.COMMON_OPTIONS`; read any with `st.option(key)`.
- `patch(patcher, st, module_name)`: called once per imported (sub)module of the framework;
  call `patcher.wrap(owner, "fit", hook)` for each method to hook (wrapping twice is a no-op).
  `hook(original, *args, **kwargs)` calls `original(*args, **kwargs)` at most once; its
  return value is ignored (the caller always gets the original's), an exception raised in the
  hook but not by the original becomes an `AutologWarning`, and nested hooked calls of the
  same integration go straight through (see `patching`).
- `autolog(disable=False, **options)` calling `autolog.configure(NAME, disable, **options)`,
  and the flavor helpers `save_model`/`log_model`/`load_model` if it has a flavor.

Then add one line to `autolog.BUILTIN` (or call `autolog.register(name, module)` at run time)
and one to `_FRAMEWORKS` in `notebook_tracker/__init__.py` so that `nt.<name>` resolves.

Inside a hook, log with `with autolog.training_run(st) as run_id:` (None: log nothing; the
active run, or a run started for this call when the user enabled autologging outside a
cell) and the fluent API (`fluent.log_metric(..., run_id=run_id)` is the fast path for
per-step metrics). `%%track_run` turns every integration on for its body via
`autolog.cell_scope()`.
"""
