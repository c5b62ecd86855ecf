"""matplotlib figures a cell created or changed, as PNG.

matplotlib is looked at only when the user imported pyplot (it is in `sys.modules`): a cell that
never plots pays nothing. A figure can leave in three ways, each caught:

- displayed (the inline backend's `plt.show()` and end-of-cell flush display then close it):
  the PNG the display already rendered is kept, whenever pyplot was imported;
- closed without display (`plt.close`): rendered just before, by wrapping pyplot's figure
  registry for the cell's duration (when pyplot was imported before the cell);
- still open after the cell: rendered by `finish()` if the cell created or changed it.
"""

from __future__ import annotations

import base64
import io
import sys
from typing import Any

PNG_DPI = 100


def _signature(fig: Any) -> tuple[Any, ...]:
    """A cheap fingerprint of what a figure shows; a change means the cell drew on it."""
    parts: list[Any] = [id(fig), tuple(fig.get_size_inches())]
    for ax in fig.axes:
        parts.append(
            (
                len(ax.lines),
                len(ax.collections),
                len(ax.patches),
                len(ax.images),
                len(ax.texts),
                ax.get_title(),
                ax.get_xlabel(),
                ax.get_ylabel(),
                ax.get_xlim(),
                ax.get_ylim(),
            )
        )
    return tuple(parts)


def render_png(fig: Any, dpi: int = PNG_DPI) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _is_figure(obj: Any) -> bool:
    return type(obj).__module__.startswith("matplotlib.") and hasattr(obj, "savefig")


class FigureWatch:
    """Create before the cell, `finish()` after it: {figure number: PNG bytes} it drew."""

    def __init__(self, shell: Any = None) -> None:
        self.captured: dict[Any, bytes] = {}
        self.errors: list[str] = []
        self._gcf: Any = None
        self._before: dict[Any, tuple[tuple[Any, ...], bool]] = {}
        self._undo: list[Any] = []
        if "matplotlib.pyplot" in sys.modules:
            self._watch_registry()
        if shell is not None:
            self._watch_displays(shell)

    # -- the three routes ----------------------------------------------------------------------
    def _watch_registry(self) -> None:
        from matplotlib._pylab_helpers import Gcf

        self._gcf = Gcf
        for num, manager in Gcf.figs.items():
            fig = manager.canvas.figure
            self._before[num] = (_signature(fig), bool(fig.stale))
        watch = self
        original_destroy = Gcf.__dict__["destroy"]
        original_destroy_all = Gcf.__dict__["destroy_all"]

        def destroy(cls: Any, num: Any) -> None:
            manager = num if hasattr(num, "canvas") else cls.figs.get(num)
            if manager is not None:
                watch._capture(manager.num, manager.canvas.figure)
            original_destroy.__func__(cls, num)

        def destroy_all(cls: Any) -> None:
            for manager in list(cls.figs.values()):
                watch._capture(manager.num, manager.canvas.figure)
            original_destroy_all.__func__(cls)

        # Patching matplotlib's registry is the point here (undo() restores it): mypy flags
        # assigning to a class's methods, and these classmethods' types differ from Gcf's.
        Gcf.destroy = classmethod(destroy)  # type: ignore[method-assign,assignment]
        Gcf.destroy_all = classmethod(destroy_all)  # type: ignore[method-assign,assignment]

        def undo() -> None:
            Gcf.destroy = original_destroy  # type: ignore[method-assign]
            Gcf.destroy_all = original_destroy_all  # type: ignore[method-assign]

        self._undo.append(undo)

    def _watch_displays(self, shell: Any) -> None:
        formatter = shell.display_formatter
        had = "format" in vars(formatter)
        original = formatter.format
        watch = self

        def format(obj: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(obj, *args, **kwargs)
            if "matplotlib.pyplot" in sys.modules and _is_figure(obj):
                watch._from_display(obj, result)
            return result

        formatter.format = format

        def undo() -> None:
            if had:
                formatter.format = original
            else:
                vars(formatter).pop("format", None)

        self._undo.append(undo)

    def _from_display(self, fig: Any, result: Any) -> None:
        data = result[0] if isinstance(result, tuple) else result
        png = data.get("image/png") if isinstance(data, dict) else None
        if png is None:
            return
        num = getattr(fig, "number", None) or f"displayed-{len(self.captured) + 1}"
        self.captured[num] = png if isinstance(png, bytes) else base64.b64decode(png)

    # -- capture -------------------------------------------------------------------------------
    def _changed(self, num: Any, fig: Any) -> bool:
        before = self._before.get(num)
        if before is None:
            return True
        signature, was_stale = before
        return _signature(fig) != signature or (bool(fig.stale) and not was_stale)

    def _capture(self, num: Any, fig: Any) -> None:
        if num in self.captured or not fig.axes or not self._changed(num, fig):
            return
        try:
            self.captured[num] = render_png(fig)
        except Exception as error:  # a figure that cannot render must not fail the run
            self.errors.append(f"figure {num}: {type(error).__name__}: {error}")

    def finish(self) -> dict[Any, bytes]:
        """Stop watching; render the figures still open that the cell created or changed."""
        for undo in reversed(self._undo):
            undo()
        self._undo = []
        if "matplotlib.pyplot" in sys.modules:
            from matplotlib._pylab_helpers import Gcf

            for manager in list(Gcf.figs.values()):
                self._capture(manager.num, manager.canvas.figure)
        return self.captured
