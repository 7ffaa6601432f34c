"""Escaping and small HTML builders: every user string goes through :func:`esc`."""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence
from typing import NamedTuple

#: Styles shared by the panels (scoped by the ``nbtrack-ui`` class).
STYLE = """<style>
.nbtrack-ui table{border-collapse:collapse;font-size:12px;
 font-family:var(--jp-ui-font-family,sans-serif)}
.nbtrack-ui th,.nbtrack-ui td{border-bottom:1px solid #ddd;padding:0 6px;height:26px;
 white-space:nowrap;max-width:18em;overflow:hidden;text-overflow:ellipsis;text-align:left}
.nbtrack-ui th{background:#f3f3f3}
.nbtrack-ui .differs td{background:#fff3c4}
.nbtrack-ui .added{background:#e6ffec}.nbtrack-ui .removed{background:#ffebe9}
.nbtrack-ui .changed{background:#fff8c5}
.nbtrack-ui pre{margin:2px 0;font-size:12px;white-space:pre-wrap}
.nbtrack-ui .err{color:#b00020}
</style>"""


class Titled(NamedTuple):
    """A table cell shown as ``text`` with ``title`` on hover (a rounded number, in full)."""

    text: str
    title: str


def esc(value: object) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


def table(
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    row_classes: Sequence[str] | None = None,
    attrs: str = "",
) -> str:
    """An HTML table; every header and cell is escaped (cells hold plain values, or
    :class:`Titled` ones whose hover text differs)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{esc(row_classes[i])}"' if row_classes and row_classes[i] else ""
        cells = "".join(
            f'<td title="{esc(v.title)}">{esc(v.text)}</td>'
            if isinstance(v, Titled)
            else f'<td title="{esc(v)}">{esc(v)}</td>'
            for v in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def panel(*parts: str) -> str:
    """Wrap HTML parts (already escaped) in the styled ``nbtrack-ui`` container."""
    return f'{STYLE}<div class="nbtrack-ui">{"".join(parts)}</div>'


def fmt_time(ms: int | None) -> str:
    """A millisecond timestamp as local ``YYYY-MM-DD HH:MM:SS`` ('' for None)."""
    if ms is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def fmt_duration(start_ms: int, end_ms: int | None) -> str:
    """Elapsed time as ``1h02m``, ``3m05s`` or ``4.2s`` (until now for a running run)."""
    end = end_ms if end_ms is not None else int(time.time() * 1000)
    seconds = max(0.0, (end - start_ms) / 1000)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_number(value: float | None) -> str:
    """A metric value in at most 6 significant digits ('' for None)."""
    return "" if value is None else f"{value:.6g}"


def fmt_short(value: float) -> str:
    """A number in 4 significant digits (the compare panel's; :func:`fmt_full` on hover)."""
    return f"{value:.4g}"


def fmt_full(value: float) -> str:
    """A number in full: the shortest text that reads back as the same float."""
    return repr(float(value))
