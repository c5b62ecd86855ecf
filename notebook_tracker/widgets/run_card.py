"""The run card shown under a tracked cell: one output, updated in place while the cell runs.

The card is a display with an id (IPython's `DisplayHandle`), not a widget model: it costs no
comm round trip per cell, updates from the live thread with `update_display_data`, and, being
HTML itself, shows as it is after nbconvert, on GitHub and when the notebook is reopened
(where widget views need saved widget state). The final update adds an `image/png` of the
stepped metrics and embeds the sparklines as PNG, for renderers that strip inline SVG.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

from notebook_tracker.widgets.card_html import CardState, card_html, card_text
from notebook_tracker.widgets.card_system import is_system, is_system_cpu
from notebook_tracker.widgets.static import curves_png, data_uri, sparkline_pngs


class RunCard:
    """The card of `state`; call `refresh()` after changing the state, `finish()` at the end."""

    def __init__(self, state: CardState) -> None:
        self.state = state
        self.html = card_html(state)
        self.png: bytes | None = None
        self._lock = threading.Lock()
        self._handle: Any = None

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/html": self.html, "text/plain": card_text(self.state)}
        if self.png is not None:
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        return bundle

    def show(self) -> None:
        from IPython.display import display

        self._handle = display(self, display_id=True)

    def refresh(self) -> bool:
        """Re-render from `state`; updates the output only when the markup changed."""
        with self._lock:
            html = card_html(self.state)
            if html == self.html:
                return False
            self.html = html
            if self._handle is not None:
                self._handle.update(self)
            return True

    def build_static(self) -> None:
        """The final markup: sparklines as embedded PNG, and a PNG of the stepped metrics."""
        stepped = {k: s for k, s in self.state.series.items() if len(s.values) > 1}
        # System metrics show as one line with a CPU sparkline, not as curves of their own.
        sparked = {k: s for k, s in stepped.items() if not is_system(k) or is_system_cpu(k)}
        curves = {k: s for k, s in stepped.items() if not is_system(k)}
        images = None
        self.png = None
        if stepped:
            try:
                images = {k: data_uri(p) for k, p in sparkline_pngs(sparked).items()}
                self.png = curves_png(curves, self.state.run_name) if curves else None
            except Exception:  # no PNG is better than no card
                images = None
        self.html = card_html(self.state, sparkline_images=images)

    def finish(self) -> None:
        """Replace the output with the final card."""
        with self._lock:
            self.build_static()
            if self._handle is not None:
                self._handle.update(self)
