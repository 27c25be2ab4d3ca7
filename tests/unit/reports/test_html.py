"""The HTML report: one self-contained, well-formed file with the acceptance table, PNG plots as data
URIs and nothing fetched from elsewhere; and the table/CSV renderings of the new figures."""

from __future__ import annotations

import base64
import csv
import io
from html.parser import HTMLParser

import pytest

from xmc_fix.reports.figures import figures, load_run, render_csv, render_table
from xmc_fix.reports.html import render_html
from xmc_fix.reports.window import ReportFilter

VOID = {"meta", "img", "br", "hr", "link", "input"}


class Page(HTMLParser):
    """Checks nesting and collects images, links, scripts and table rows."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images, self.external, self.rows = [], [], [], [], []
        self._row = None
        self._cell = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if tag in ("script", "link", "iframe") or (tag == "img" and not a.get("src", "").startswith("data:")):
            self.external.append((tag, a))
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = ""
        if tag == "title":
            self._in_title = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        if tag == "tr":
            self.rows.append(self._row)
            self._row = None
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._in_title:
            self.title += data


@pytest.fixture
def page(cost_db):
    data = load_run(cost_db)
    text = render_html(figures(data), data)
    p = Page()
    p.feed(text)
    p.close()
    p.text = text
    return p


def test_the_page_is_well_formed_and_fetches_nothing(page):
    assert page.errors == [] and page.stack == []
    assert page.external == []
    assert page.text.startswith("<!DOCTYPE html>") and page.title == "xmc_fix report R1"
    assert "http://" not in page.text and "https://" not in page.text


def test_plots_are_embedded_png_images(page):
    assert len(page.images) == 4
    for img in page.images:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert img["alt"]
    assert {i["alt"] for i in page.images} == {"Order latency histograms per venue", "Slippage distribution",
                                               "Implementation shortfall per ticket", "Basis over time"}


def test_the_acceptance_table_has_a_row_per_claim_with_its_verdict(page):
    rows = {r[0]: r for r in page.rows if r and r[0].split(" ")[0] in ("order", "quantity", "risk", "automatic",
                                                                          "audit")}

    assert set(rows) == {"order response < 200 ms", "quantity alignment >= 99.5 %", "risk alarm < 100 ms",
                         "automatic repair >= 95 %", "audit coverage 100 %"}
    assert rows["order response < 200 ms"][2] == "met"
    assert rows["risk alarm < 100 ms"][2] == "not measured"
    assert rows["audit coverage 100 %"][2] == "NOT MET"      # LME's incoming 3 is missing
    assert "93.333 %" in rows["audit coverage 100 %"][1]


def test_the_page_shows_the_cost_tables(page):
    tickets = {r[0]: r for r in page.rows if r and r[0] in ("TA", "TB", "TC", "TD") and len(r) == 12}

    assert tickets["TA"][-1] == "342.5" and tickets["TB"][-1] == "1,925"
    assert any(r[:2] == ["all", "4"] and r[-1] == "2,518" for r in page.rows)   # shortfall total 2517.5


def test_a_run_with_nothing_in_the_window_still_renders(cost_db):
    data = load_run(cost_db, filt=ReportFilter(pair="NO_SUCH_PAIR"))
    p = Page()
    p.feed(render_html(figures(data), data))

    assert p.errors == [] and len(p.images) == 4


def test_table_rendering_has_the_cost_and_acceptance_sections(cost_db):
    text = render_table(figures(load_run(cost_db, filt=ReportFilter(pair="CU_SHFE_LME"))))

    assert "filter: tickets decided from - to -, pair CU_SHFE_LME" in text.splitlines()[1]
    assert "shortfall (CNY)" in text and "fee term is 0" in text
    [lme] = [line for line in text.splitlines() if line.startswith("CU_SHFE_LME") and "%" in line]
    assert lme.split()[1:6] == ["6", "2", "3", "2", "33.3%"]
    assert any(line.startswith("audit coverage 100 %") and "NOT MET" in line for line in text.splitlines())


def test_csv_rendering_flattens_the_new_figures(cost_db):
    values = dict(list(csv.reader(io.StringIO(render_csv(figures(load_run(cost_db))))))[1:])

    assert values["shortfall.total_ccy"] == "2517.5"
    assert values["clock.venues.SHFE.offset_us"] == "1000.0"
    assert values["acceptance.2.claim"] == "risk alarm < 100 ms" and values["acceptance.2.met"] == ""
    assert values["coverage.sessions.FIX.4.4:XMC->LME.in.first_missing"] == "3"
