"""`dvc plots show` and `dvc plots diff` write a page that works offline.

DVC's default page loads Vega, Vega-Lite and vega-embed from a CDN (blank offline). The
repository's DVC config names a template with the three libraries inlined instead
(.dvc/plots/README.md); these checks read files only.
"""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

from configobj import ConfigObj
from dvc_render import render_html
from dvc_render.vega import VegaRenderer

from tests.support import REPO

PACKAGES = ["vega", "vega-lite", "vega-embed"]  # in the order they must load
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class Scripts(HTMLParser):
    """The page's script elements: their attributes and inline code."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, code = self.scripts[-1]
            self.scripts[-1] = (attrs, code + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def template_path() -> Path:
    """The template DVC uses without flags: plots.html_template of .dvc/config, a relative
    path taken from the .dvc folder (as dvc.commands.plots.CmdPlots does)."""
    config = ConfigObj(str(REPO / ".dvc" / "config"))
    assert "html_template" in config.get("plots", {}), "set `dvc config plots.html_template`"
    return REPO / ".dvc" / config["plots"]["html_template"]


def remote_sources(page: str) -> list[str]:
    return [
        attrs["src"] or ""
        for attrs, _ in Scripts(page).scripts
        if "src" in attrs and REMOTE.match(attrs["src"] or "")
    ]


def test_the_configured_template_exists_with_dvcs_placeholder():
    page = template_path().read_text(encoding="utf-8")
    assert "{plot_divs}" in page  # DVC refuses a template without it
    # DVC replaces "{scripts}" with its CDN script tags: the template must not have it.
    assert "{scripts}" not in page


def test_the_template_inlines_the_libraries_and_loads_nothing_remote():
    page = template_path().read_text(encoding="utf-8")
    assert remote_sources(page) == []
    vendored = [(a, code) for a, code in Scripts(page).scripts if "data-package" in a]
    assert [a["data-package"].split("@")[0] for a, _ in vendored] == PACKAGES
    for attrs, code in vendored:  # the npm build, unchanged (README.md: sha256)
        assert hashlib.sha256(code.encode("utf-8")).hexdigest() == attrs["data-sha256"]


def test_dvc_fills_the_template_into_a_page_without_remote_scripts(tmp_path):
    points = [{"x": 0.0, "y": 0.0, "rev": "workspace"}, {"x": 1.0, "y": 1.0, "rev": "workspace"}]
    renderer = VegaRenderer(points, "roc.csv", x="x", y="y")
    out = tmp_path / "index.html"
    render_html([renderer], out, html_template=template_path())
    page = out.read_text(encoding="utf-8")
    assert remote_sources(page) == []
    assert "cdn.jsdelivr.net" not in page
    # The libraries come before the chart that calls vegaEmbed.
    assert page.index('data-package="vega-embed@') < page.index("vegaEmbed('#")
