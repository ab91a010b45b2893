"""The one page stack (fraudsim.evaluate.html, .figures) that the run report, the stress report
and the rounds page are built with."""

from __future__ import annotations

from pathlib import Path

from fraudsim.evaluate import html
from fraudsim.evaluate.figures import plt, png, png_base64


def test_a_page_is_self_contained() -> None:
    page = html.page("a <title>", ["<p>one</p>", "", "<p>two</p>"])
    assert page.startswith("<!doctype html>") and page.endswith("</body></html>\n")
    assert "<title>a &lt;title&gt;</title>" in page
    assert html.CSS in page and html.IMAGES_OK_SCRIPT in page
    assert "<p>one</p>\n<p>two</p>" in page  # empty parts are dropped
    assert "http://" not in page and "https://" not in page


def test_tables_format_and_escape_cells() -> None:
    rows = [["a<b", None, 0.004, 12345.6, 1234, True], ["x", 1.5, 0.25, -2.0, 7, False]]
    stats = html.table(["name", "v", "w", "x", "n", "ok"], rows, numeric=True)
    assert stats.startswith("<table class='num'><thead><tr><th>name</th>")
    assert "<td>a&lt;b</td><td>\u2014</td><td>0.0040</td><td>12,346</td><td>1,234</td>" in stats
    assert "<td>yes</td>" in stats and "<td>no</td>" in stats
    assert "&amp;" not in html.table(["ci"], [[html.DASH]])  # an empty cell is not re-escaped
    figures = html.table(["v"], [[0.123456], [None]], html.sig, ["pass", ""])
    assert "<tr class='pass'><td>0.1235</td></tr><tr><td>-</td></tr>" in figures


def test_figures_become_embedded_pngs() -> None:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    data = png(fig, dpi=40)
    assert data.startswith(b"\x89PNG") and not plt.get_fignums()  # the figure is closed
    fig, _ = plt.subplots(figsize=(2, 2))
    tag = html.img(png_base64(fig, dpi=40), "a 'plot'")
    assert tag.startswith("<img alt='a &#x27;plot&#x27;' src='data:image/png;base64,iVBOR")


def test_report_and_stress_pages_share_the_stack(tiny_run: Path, tiny_report: dict) -> None:
    page = (tiny_run / "report.html").read_text()
    assert html.CSS in page and html.IMAGES_OK_SCRIPT in page
    assert page.count("<img alt=") == len(tiny_report["plots"])
