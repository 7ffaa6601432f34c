"""The PNG output of the charts (vl-convert, the ``png`` extra) is a real image of the chart.

Two paths give PNG: ``metrics(..., format="png")`` (the bundle is the image and
its summary), and the terminal fallback (no kernel behind IPython: the Vega-Lite
bundle also carries a PNG). Each image is checked by its magic bytes and IHDR
header, then decoded in full by Pillow: the size the chart asks for, several
colours (axes, one line per run), not a blank canvas.
"""

from __future__ import annotations

import base64
import io
import struct

import pytest

import nbtrack
from _ui_helpers import EVIL, make_evil_run, make_runs
from nbtrack.ui import _display, metrics

pytest.importorskip("vl_convert", reason="vl-convert-python is the optional png extra")
Image = pytest.importorskip("PIL.Image", reason="Pillow decodes the PNG")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(data: bytes) -> tuple[int, int]:
    """Header checks, a full decode, and the image's (width, height)."""
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert len(data) > 5_000, len(data)  # axes, labels and lines, not an empty frame
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # decodes every row: a truncated or corrupt stream raises here
        assert image.size == (width, height)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20, "a near-blank image"
    return width, height


def test_format_png_is_the_chart_as_an_image(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 3, steps=50)
    bundle = metrics(ids, "loss", format="png", client=client)._repr_mimebundle_()
    assert set(bundle) == {"image/png", "text/plain"}
    width, height = _check_png(base64.b64decode(bundle["image/png"]))
    # the plot is 480 x 240 inside axes, title and legend
    assert 480 < width < 1000, width
    assert 240 < height < 500, height
    assert "run-2" in bundle["text/plain"]


def test_two_metrics_stack_into_a_taller_png(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 2, steps=30)
    one = metrics(ids, "loss", format="png", client=client)._repr_mimebundle_()
    two = metrics(ids, ["loss", "acc"], format="png", client=client)._repr_mimebundle_()
    _, height_one = _check_png(base64.b64decode(one["image/png"]))
    _, height_two = _check_png(base64.b64decode(two["image/png"]))
    assert height_two > 1.8 * height_one


def test_terminal_bundle_carries_a_png(client: nbtrack.TrackingClient) -> None:
    assert not _display.in_kernel()  # pytest: IPython without a kernel, like a terminal
    ids = make_runs(client, 2, steps=20)
    bundle = metrics(ids, "loss", client=client)._repr_mimebundle_()
    assert _display.VEGALITE_V5 in bundle
    assert "image/svg+xml" not in bundle
    _check_png(base64.b64decode(bundle["image/png"]))


def test_png_of_a_run_with_an_html_name(client: nbtrack.TrackingClient) -> None:
    run_id = make_evil_run(client)
    bundle = metrics(run_id, "m", format="png", client=client)._repr_mimebundle_()
    _check_png(base64.b64decode(bundle["image/png"]))
    assert EVIL in bundle["text/plain"]  # plain text, never rendered as HTML
