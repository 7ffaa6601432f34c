"""The shape every stateful panel shares: state in the object, ipywidgets built on first use.

A subclass names the module holding its widgets (``build(panel) -> parts``,
``sync(panel, parts)``) and writes :meth:`WidgetPanel.text`; it calls
:meth:`WidgetPanel._sync` after each state change. Without a widget frontend
(a terminal, nbconvert) the panel prints its text instead.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from nbtrack.ui._display import has_widget_frontend


class WidgetPanel:
    """Base of panels whose widgets mirror the object's state."""

    #: The module with ``build(panel)`` and ``sync(panel, parts)``, imported on first use.
    widget_module: ClassVar[str]
    _widgets: dict[str, Any] | None = None

    def text(self) -> str:
        """The panel as plain text (terminals)."""
        raise NotImplementedError

    def html(self) -> str:
        """The panel as static, escaped HTML: what exports and viewers without widgets show."""
        from nbtrack.ui._html import esc, panel

        return panel(f"<pre>{esc(self.text())}</pre>")

    def __repr__(self) -> str:
        return self.text()

    @property
    def widget(self) -> Any:
        """The ipywidgets panel (built on first access)."""
        if self._widgets is None:
            self._widgets = importlib.import_module(self.widget_module).build(self)
            self._sync()
        assert self._widgets is not None
        return self._widgets["root"]

    @property
    def controls(self) -> dict[str, Any]:
        """The panel's widgets by role (see the widget module's ``build``)."""
        self.widget  # noqa: B018 - builds the widgets
        assert self._widgets is not None
        return self._widgets

    def _sync(self) -> None:
        if self._widgets is not None:
            importlib.import_module(self.widget_module).sync(self, self._widgets)

    def _ipython_display_(self) -> None:
        if has_widget_frontend():
            from nbtrack.ui._display import show, widget_bundle

            # The static HTML rides along, so an exported notebook shows the panel too.
            show(widget_bundle(self.widget, self.html(), self.text()), raw=True)
        else:
            print(self.text())
