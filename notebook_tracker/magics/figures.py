"""matplotlib figures a cell created or changed, rendered to PNG.

matplotlib is looked at only when the user already imported pyplot (it is in `sys.modules`):
a cell that never plots pays nothing. Figures closed during the cell (`plt.show()` under the
inline backend closes them, so does `plt.close`) are rendered just before they close, by
wrapping pyplot's figure registry for the duration of the cell.
"""

from __future__ import annotations

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


class FigureWatch:
    """Start before the cell, `finish()` after it: {figure number: PNG bytes} it drew."""

    def __init__(self) -> None:
        self._gcf: Any = None
        self._before: dict[Any, tuple[tuple[Any, ...], bool]] = {}
        self.captured: dict[Any, bytes] = {}
        self.errors: list[str] = []
        self._originals: dict[str, Any] = {}
        if "matplotlib.pyplot" in sys.modules:
            self._start()

    def _start(self) -> None:
        from matplotlib._pylab_helpers import Gcf

        self._gcf = Gcf
        for num, manager in Gcf.figs.items():
            fig = manager.canvas.figure
            self._before[num] = (_signature(fig), bool(fig.stale))
        watch = self
        original_destroy = Gcf.__dict__["destroy"]
        original_destroy_all = Gcf.__dict__["destroy_all"]
        self._originals = {"destroy": original_destroy, "destroy_all": original_destroy_all}

        def destroy(cls: Any, num: Any) -> None:
            manager = num if hasattr(num, "canvas") else cls.figs.get(num)
            if manager is not None:
                watch._capture(manager)
            original_destroy.__func__(cls, num)

        def destroy_all(cls: Any) -> None:
            for manager in list(cls.figs.values()):
                watch._capture(manager)
            original_destroy_all.__func__(cls)

        Gcf.destroy = classmethod(destroy)
        Gcf.destroy_all = classmethod(destroy_all)

    def _changed(self, num: Any, fig: Any) -> bool:
        before = self._before.get(num)
        if before is None:
            return True
        signature, was_stale = before
        return _signature(fig) != signature or (bool(fig.stale) and not was_stale)

    def _capture(self, manager: Any) -> None:
        num = manager.num
        if num in self.captured:
            return
        fig = manager.canvas.figure
        if not self._changed(num, fig) or not fig.axes:
            return
        try:
            self.captured[num] = render_png(fig)
        except Exception as error:  # a figure that cannot render must not fail the run
            self.errors.append(f"figure {num}: {type(error).__name__}: {error}")

    def finish(self) -> dict[Any, bytes]:
        """Restore pyplot and render the figures still open that the cell created or changed."""
        if self._gcf is None and "matplotlib.pyplot" in sys.modules:
            from matplotlib._pylab_helpers import Gcf

            self._gcf = Gcf  # pyplot was imported by the cell: every figure is new
        if self._gcf is None:
            return self.captured
        if self._originals:
            self._gcf.destroy = self._originals["destroy"]
            self._gcf.destroy_all = self._originals["destroy_all"]
            self._originals = {}
        for manager in list(self._gcf.figs.values()):
            self._capture(manager)
        return self.captured
