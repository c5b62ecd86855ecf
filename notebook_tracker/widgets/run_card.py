"""The run card shown under a tracked cell: one widget, updated in place while the cell runs.

Its mime bundle carries, next to the widget view, a static `text/html` card (sparklines as
embedded PNG images) and an `image/png` of the stepped metrics, so the card still shows after
nbconvert or on GitHub. `show()` displays it with a display id; `finish()` replaces that output
with the final bundle, so the saved notebook holds the final static card.
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets

from notebook_tracker.widgets.card_html import CardState, card_html, card_text
from notebook_tracker.widgets.static import curves_png, data_uri, sparkline_pngs


class RunCard(ipywidgets.HTML):
    """An HTML widget whose value is the card of `state`; call `refresh()` after changing it."""

    def __init__(self, state: CardState, **kwargs: Any) -> None:
        super().__init__(value=card_html(state), **kwargs)
        self.state = state
        self._lock = threading.Lock()
        self._static_html: str | None = None
        self._static_png: bytes | None = None
        self._handle: Any = None
        self.add_class("nt-run-card-widget")

    def refresh(self) -> bool:
        """Re-render from `state`; sends an update only when the markup changed."""
        with self._lock:
            html = card_html(self.state)
            if html == self.value:
                return False
            self.value = html
            return True

    def build_static(self) -> None:
        """Render the static fallback of the current state (PNG only when there are curves)."""
        stepped = {k: s for k, s in self.state.series.items() if len(s.values) > 1}
        images = None
        self._static_png = None
        if stepped:
            try:
                images = {k: data_uri(p) for k, p in sparkline_pngs(stepped).items()}
                self._static_png = curves_png(stepped, self.state.run_name)
            except Exception:  # no PNG fallback is better than a failed run card
                images = None
        self._static_html = card_html(self.state, sparkline_images=images)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if not isinstance(bundle, dict):
            return bundle
        import base64

        bundle["text/plain"] = card_text(self.state)
        bundle["text/html"] = self._static_html or card_html(self.state)
        if self._static_png is not None:
            bundle["image/png"] = base64.b64encode(self._static_png).decode("ascii")
        return bundle

    def show(self) -> None:
        from IPython.display import display

        self._handle = display(self, display_id=True)

    def finish(self) -> None:
        """Final render: widget value, static fallbacks, and the displayed output replaced."""
        self.refresh()
        self.build_static()
        if self._handle is not None:
            self._handle.update(self)
