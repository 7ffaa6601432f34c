"""Offline display: Vega-Lite v5 mimebundles, PNG through vl-convert, text fallbacks.

JupyterLab 4 bundles a Vega-Lite 5 renderer only, and Altair 6 emits v6 specs
(or HTML that loads Vega from a CDN): charts are shown as a
``application/vnd.vegalite.v5+json`` bundle whose ``$schema`` says v5, which
renders with no network in JupyterLab and Notebook 7, also inside an
``ipywidgets.Output``. A terminal gets the bundle's ``text/plain`` summary
(plus ``image/png`` when vl-convert is installed).
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
    """Whether ``vl-convert-python`` (the ``png`` extra) is importable."""
    return importlib.util.find_spec("vl_convert") is not None


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


def chart_bundle(spec: dict[str, Any], summary: str, fmt: str = "vega") -> dict[str, Any]:
    """The mimebundle of a chart: v5 Vega-Lite (or PNG) plus a text summary."""
    bundle: dict[str, Any] = {"text/plain": summary}
    if fmt == "png":
        import base64

        bundle["image/png"] = base64.b64encode(png_bytes(spec)).decode("ascii")
        return bundle
    bundle[VEGALITE_V5] = to_v5(spec)
    if not has_widget_frontend() and has_vl_convert():
        logger.debug("terminal: adding a PNG rendering to the bundle")
        import base64

        bundle["image/png"] = base64.b64encode(png_bytes(spec)).decode("ascii")
    return bundle


def display_bundle(bundle: dict[str, Any]) -> None:
    """Display a raw mimebundle in the current output area (or ``Output`` context)."""
    show(bundle, raw=True)


def show(obj: Any, **kwargs: Any) -> Any:
    """``IPython.display.display`` (typed wrapper); returns its display handle if any."""
    from IPython.display import display

    return display(obj, **kwargs)  # type: ignore[no-untyped-call]


def inline_data(records: list[dict[str, Any]]) -> Any:
    """Altair inline data (``alt.Data(values=...)``), never subject to the row limit."""
    import altair as alt

    return alt.Data(values=records)  # type: ignore[no-untyped-call]
