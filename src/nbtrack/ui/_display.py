"""Offline display: Vega-Lite v5 mimebundles, PNG through vl-convert, text fallbacks.

JupyterLab 4 bundles a Vega-Lite 5 renderer only, and Altair 6 emits v6 specs
(or HTML that loads Vega from a CDN): charts are shown as a
``application/vnd.vegalite.v5+json`` bundle whose ``$schema`` says v5, which
renders with no network in JupyterLab and Notebook 7, also inside an
``ipywidgets.Output``. A terminal gets the bundle's ``text/plain`` summary
(plus ``image/png`` when vl-convert is installed).

Static copies for everything that is not a live Jupyter frontend: with
vl-convert installed (the ``png`` extra), a chart's bundle also carries an
``image/svg+xml`` rendering of the same spec, made offline. JupyterLab and
Notebook 7 still draw the interactive Vega chart (their Vega renderer ranks
above the SVG one), while ``jupyter nbconvert --to html`` (which has no Vega
renderer and would print the text summary), GitHub and other viewers show the
SVG. For the same reason :func:`widget_bundle` gives a widget panel its
escaped HTML as ``text/html``: exporters skip a widget view whose state was not
saved, which is JupyterLab's default, and show that instead.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from nbtrack.exceptions import NbtrackError

logger = logging.getLogger(__name__)

VEGALITE_V5 = "application/vnd.vegalite.v5+json"
SCHEMA_V5 = "https://vega.github.io/schema/vega-lite/v5.20.1.json"


def has_widget_frontend() -> bool:
    """Whether the running IPython talks to a frontend that can show widgets (a kernel)."""
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call, unused-ignore]  # typed in IPython 9
    if shell is None or getattr(shell, "kernel", None) is None:
        logger.debug("no kernel behind IPython: static output")
        return False
    if importlib.util.find_spec("ipywidgets") is None:
        logger.debug("ipywidgets is not installed: static output")
        return False
    return True


def has_vl_convert() -> bool:
    """Whether ``vl-convert-python`` (the ``png`` extra) can be imported (it is, when it can)."""
    try:
        import vl_convert  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def to_v5(spec: dict[str, Any]) -> dict[str, Any]:
    """An Altair ``to_dict()`` spec relabelled as Vega-Lite v5 (the features used are v5's)."""
    out = dict(spec)
    out["$schema"] = SCHEMA_V5
    return out


def png_bytes(spec: dict[str, Any], scale: float = 1.0) -> bytes:
    """Render a Vega-Lite spec to PNG offline; a clear error without vl-convert."""
    if not has_vl_convert():
        raise NbtrackError(
            "PNG output needs vl-convert-python: pip install 'nbtrack[png]' "
            "(or show the chart as Vega-Lite, the default)"
        )
    import vl_convert  # type: ignore[import-not-found, unused-ignore]

    data: bytes = vl_convert.vegalite_to_png(spec, scale=scale)
    return data


def svg_text(spec: dict[str, Any]) -> str:
    """Render a Vega-Lite spec to SVG offline (vl-convert escapes every text it draws)."""
    if not has_vl_convert():
        raise NbtrackError("SVG output needs vl-convert-python: pip install 'nbtrack[png]'")
    import vl_convert  # type: ignore[import-not-found, unused-ignore]

    data: str = vl_convert.vegalite_to_svg(spec)
    return data


def in_kernel() -> bool:
    """Whether IPython runs in a kernel (a notebook frontend or an exporter reads its output)."""
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call, unused-ignore]  # typed in IPython 9
    return shell is not None and getattr(shell, "kernel", None) is not None


def chart_bundle(
    spec: dict[str, Any], summary: str, fmt: str = "vega", static: bool = True
) -> dict[str, Any]:
    """The mimebundle of a chart: v5 Vega-Lite (or PNG) plus a text summary.

    With ``static`` and vl-convert installed, a kernel's bundle also gets an
    ``image/svg+xml`` copy for exports (see the module's docstring) and a
    terminal's an ``image/png``; a live chart's intermediate redraws skip it.
    """
    import base64

    bundle: dict[str, Any] = {"text/plain": summary}
    if fmt == "png":
        bundle["image/png"] = base64.b64encode(png_bytes(spec)).decode("ascii")
        return bundle
    bundle[VEGALITE_V5] = to_v5(spec)
    if not static or not has_vl_convert():
        return bundle
    if in_kernel():
        bundle["image/svg+xml"] = svg_text(bundle[VEGALITE_V5])
    else:
        logger.debug("terminal: adding a PNG rendering to the bundle")
        bundle["image/png"] = base64.b64encode(png_bytes(spec)).decode("ascii")
    return bundle


def widget_bundle(widget: Any, html: str, text: str) -> dict[str, Any]:
    """A widget's mimebundle with static ``text/html`` and ``text/plain`` fallbacks.

    Jupyter frontends draw the widget (their widget renderer ranks first);
    ``nbconvert`` and viewers without the widget's state show ``html``, which
    must already be escaped.
    """
    bundle: dict[str, Any] = dict(widget._repr_mimebundle_() or {})
    bundle["text/html"] = html
    bundle["text/plain"] = text
    return bundle


def chart_metadata(bundle: dict[str, Any]) -> dict[str, Any]:
    """Output metadata asking Jupyter's Vega renderer for SVG instead of a canvas.

    Downsampled charts hold a few thousand points at most, so SVG costs little and
    gives crisp, zoomable charts whose marks and labels are DOM (searchable, testable).
    """
    if VEGALITE_V5 not in bundle:
        return {}
    return {VEGALITE_V5: {"embed_options": {"renderer": "svg"}}}


def display_bundle(bundle: dict[str, Any]) -> None:
    """Display a raw mimebundle in the current output area (or ``Output`` context)."""
    show(bundle, raw=True, metadata=chart_metadata(bundle))


def show(obj: Any, **kwargs: Any) -> Any:
    """``IPython.display.display`` (typed wrapper); returns its display handle if any."""
    from IPython.display import display

    return display(obj, **kwargs)  # type: ignore[no-untyped-call]


def inline_data(records: list[dict[str, Any]]) -> Any:
    """Altair inline data (``alt.Data(values=...)``), never subject to the row limit."""
    import altair as alt
    from altair.utils.schemapi import debug_mode

    # Altair's debug mode validates every record against the JSON schema when the
    # object is built: ~0.1 s for a 2,000-point chart, for records we made ourselves.
    with debug_mode(False):
        return alt.Data(values=records)  # type: ignore[no-untyped-call]
