"""Self-contained HTML pages: one stylesheet, the page skeleton, tables, number formats and PNGs
embedded as data: URIs. No external resource; used by the stress, rounds and run-report pages."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

DASH = "\u2014"  # an empty cell

CSS = """
body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#eee}
table.num th,table.num td{text-align:right}
table.num th:first-child,table.num td:first-child{text-align:left}
.note{color:#555}
.fail{background:#fde2e2}.pass{background:#e6f4e6}.na{color:#888}
.alarm{background:#b00020;color:#fff;padding:1em;font-size:1.2em;font-weight:bold}
.ok{background:#e6f4e6;padding:.6em}
img{display:block;max-width:100%;border:1px solid #eee;margin:.5em 0 1em}
"""

# Sets data-images-ok on <body> once every image has decoded (read by the browser test).
IMAGES_OK_SCRIPT = """
<script>
function fraudsimImagesOk(){var ims=document.images;for(var i=0;i<ims.length;i++){
if(!(ims[i].complete&&ims[i].naturalWidth>0))return false;}return true;}
window.addEventListener('load',function(){document.body.setAttribute('data-images-ok',
fraudsimImagesOk()?'true':'false');document.body.setAttribute('data-image-count',
String(document.images.length));});
</script>
"""

Format = Callable[[Any], str]


def esc(value: Any) -> str:
    """Text escaped for HTML."""
    return html.escape(str(value))


def stat(value: Any) -> str:
    """A cell of rates and counts: 3 decimals (4 below 0.01), thousands separated."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4f}" if 0 < abs(value) < 0.01 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return esc(value)


def sig(value: Any) -> str:
    """A cell of measured figures of any magnitude: 4 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return esc(value)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: Format = stat,
    row_classes: Sequence[str] | None = None,
    numeric: bool = False,
) -> str:
    """A table; `fmt` turns each cell into HTML, `row_classes` style rows (`pass`, `fail`,
    `na`), `numeric` right-aligns every column but the first."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f" class='{row_classes[i]}'" if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>")
    kind = " class='num'" if numeric else ""
    return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def img(png_base64: str, alt: str) -> str:
    """An image embedded as a data: URI."""
    return f"<img alt='{esc(alt)}' src='data:image/png;base64,{png_base64}'>"


def page(title: str, body: Sequence[str]) -> str:
    """A whole page: the stylesheet, the image check and the non-empty parts of `body`."""
    return "\n".join(
        [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{esc(title)}</title><style>{CSS}</style>",
            IMAGES_OK_SCRIPT,
            "</head><body>",
            *(part for part in body if part),
            "</body></html>\n",
        ]
    )
