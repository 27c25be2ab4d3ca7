"""Sweeps over book levels, conversion of the outer price, the basis and its executable quote.

The expected numbers are worked by hand in the comments; Decimal carries 28 significant digits, so
results that are not exact in decimal are compared after quantizing well inside that precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D

import pytest

from xmc_fix.basis.pricing import PairPricer, Sweep, fx_rate, sweep
from xmc_fix.config import FxSource, PairConfig
from xmc_fix.domain.enums import Direction
from xmc_fix.domain.instruments import Instrument
from tests.unit.factories import comex_hg, lme_ca, shfe_cu  # noqa: F401


def usdcnh(**overrides) -> FxSource:
    fields = dict(name="USDCNH", base="USD", quote="CNY", rate=D("7.2"))
    return FxSource(**{**fields, **overrides})


def pair_config(**overrides) -> PairConfig:
    fields = dict(name="CU", inner="SHFE_CU", outer="LME_CA", fx="USDCNH", tax_factor=D("1.13"))
    return PairConfig(**{**fields, **overrides})


def make_pricer(cfg: PairConfig | None = None, inner: Instrument | None = None, outer: Instrument | None = None,
                fx: FxSource | None = None) -> PairPricer:
    return PairPricer(cfg or pair_config(), inner or shfe_cu(), outer or lme_ca(), fx or usdcnh())


@dataclass
class StubBook:
    """The two level lists (best first) a pricer reads, and what fx_rate reads."""

    bids: list = field(default_factory=list)
    asks: list = field(default_factory=list)
    valid: bool = True

    def mid(self):
        return (self.bids[0][0] + self.asks[0][0]) / 2


def levels(*pairs) -> list[tuple[D, D]]:
    return [(D(str(px)), D(str(sz))) for px, sz in pairs]


# -- sweep --------------------------------------------------------------------------------------
def test_sweep_within_the_best_level_is_the_best_price():
    assert sweep(levels((100, 5), (101, 5)), D(3)) == Sweep(D(100), D(100), D(3))


def test_sweep_across_levels_is_volume_weighted():
    # 2 @ 100 + 2 @ 101 = 200 + 202 = 402; 402 / 4 = 100.5; the last level touched is 101
    assert sweep(levels((100, 2), (101, 3), (102, 10)), D(4)) == Sweep(D("100.5"), D(101), D(4))


def test_sweep_that_exactly_empties_a_level_stops_there():
    # 2 @ 100 + 3 @ 101 = 200 + 303 = 503; 503 / 5 = 100.6; the 102 level is not touched
    assert sweep(levels((100, 2), (101, 3), (102, 10)), D(5)) == Sweep(D("100.6"), D(101), D(5))


def test_sweep_on_a_thin_book_reports_what_is_there():
    # 2 @ 100 + 3 @ 101 + 5 @ 102 = 200 + 303 + 510 = 1013 for 10 lots; 1013 / 10 = 101.3
    assert sweep(levels((100, 2), (101, 3), (102, 5)), D(20)) == Sweep(D("101.3"), D(102), D(10))


def test_sweep_over_descending_bids_averages_down():
    # 3 @ 80010 + 2 @ 80000 = 240030 + 160000 = 400030; 400030 / 5 = 80006
    assert sweep(levels((80010, 3), (80000, 10)), D(5)) == Sweep(D(80006), D(80000), D(5))


@pytest.mark.parametrize("book, lots", [([], D(1)), (levels((100, 5)), D(0)), (levels((100, 5)), D(-1))])
def test_sweep_of_nothing_is_none(book, lots):
    assert sweep(book, lots) is None


# -- conversion: SHFE copper (CNY/t) against LME copper (USD/t) ----------------------------------
def test_lme_price_converts_at_fx_and_tax():
    pricer = make_pricer()

    # 9800 USD/t x 1 (t -> t) x 7.2 CNY/USD = 70560 CNY/t; x 1.13 (VAT) = 79732.8 CNY/t
    assert pricer.convert(D(9800), D("7.2")) == D("79732.8")
    assert pricer.needs_fx


def test_spread_basis_is_inner_minus_converted_outer():
    pricer = make_pricer()

    # 80000 - 79732.8 = 267.2
    assert pricer.basis(D(80000), D(9800), D("7.2")) == D("267.2")


def test_negative_basis_when_inner_is_cheaper():
    # 79000 - 79732.8 = -732.8
    assert make_pricer().basis(D(79000), D(9800), D("7.2")) == D("-732.8")


def test_ratio_basis_is_inner_over_converted_outer():
    pricer = make_pricer(pair_config(formula="ratio"))

    # 80000 / 79732.8 = 1.0033511929845684586518973...
    b = pricer.basis(D(80000), D(9800), D("7.2"))
    assert b.quantize(D("1e-12")) == D("1.003351192985")
    assert abs(b * D("79732.8") - D(80000)) < D("1e-20")


def test_cost_per_unit_is_added_after_tax():
    pricer = make_pricer(pair_config(cost_per_unit=D(150)))

    # 9800 x 7.2 x 1.13 + 150 = 79732.8 + 150 = 79882.8; basis 80000 - 79882.8 = 117.2
    assert pricer.convert(D(9800), D("7.2")) == D("79882.8")
    assert pricer.basis(D(80000), D(9800), D("7.2")) == D("117.2")


def test_fx_quoted_the_other_way_round_divides():
    # CNY/USD 0.125 (USD 1 = CNY 8): 9800 / 0.125 = 78400 CNY/t; x 1.13 = 88592 CNY/t
    pricer = make_pricer(fx=usdcnh(name="CNYUSD", base="CNY", quote="USD", rate=D("0.125")))

    assert pricer.convert(D(9800), D("0.125")) == D(88592)


def test_fx_quoted_either_way_gives_the_same_basis_for_the_same_rate():
    direct = make_pricer(fx=usdcnh())
    inverse = make_pricer(fx=usdcnh(name="CNYUSD", base="CNY", quote="USD"))

    # 7.2 CNY per USD is 1 / 7.2 = 0.13888... USD per CNY
    a = direct.basis(D(80000), D(9800), D("7.2"))
    b = inverse.basis(D(80000), D(9800), D(1) / D("7.2"))
    assert abs(a - b) < D("1e-20")


def test_same_currency_pair_needs_no_fx():
    # LME copper against COMEX copper, both USD: 4 USD/lb = 4 / 0.00045359237 = 8818.4904873951... USD/t
    pricer = make_pricer(pair_config(fx=None, tax_factor=D(1)), inner=lme_ca(), outer=comex_hg(), fx=None)

    assert not pricer.needs_fx
    assert pricer.convert(D(4), None).quantize(D("0.0001")) == D("8818.4905")


# -- conversion: SHFE copper (CNY/t) against COMEX HG (USD/lb) -----------------------------------------
def test_comex_price_per_pound_converts_to_cny_per_tonne():
    pricer = make_pricer(outer=comex_hg())

    # 1 t = 1 / 0.00045359237 lb = 2204.622621848775807... lb, so
    # 4.05 USD/lb x 2204.6226218487758 = 8928.7216184875420 USD/t
    #            x 7.2                  = 64286.795653110302 CNY/t
    #            x 1.13                 = 72644.079088014641 CNY/t
    conv = pricer.convert(D("4.05"), D("7.2"))
    assert conv.quantize(D("0.0001")) == D("72644.0791")
    # and back: undoing tax, FX and the unit leaves the quoted 4.05 USD/lb
    assert abs(conv / D("1.13") / D("7.2") * D("0.00045359237") - D("4.05")) < D("1e-20")


def test_comex_basis_against_shfe():
    # 72000 - 72644.079088014641... = -644.079088014641...
    b = make_pricer(outer=comex_hg()).basis(D(72000), D("4.05"), D("7.2"))
    assert b.quantize(D("0.0001")) == D("-644.0791")


# -- executable quotes -------------------------------------------------------------------------------
INNER_BOOK = StubBook(bids=levels((80010, 3), (80000, 10)), asks=levels((80030, 2), (80040, 10)))
OUTER_BOOK = StubBook(bids=levels((9790, 1), (9789, 5)), asks=levels((9800, 1), (9801, 5)))


def test_selling_the_basis_sells_inner_at_bids_and_buys_outer_at_asks():
    quote = make_pricer().executable(Direction.SELL_BASIS, INNER_BOOK, OUTER_BOOK, D(5), D(1), D("7.2"))

    # inner bids: 3 @ 80010 + 2 @ 80000 = 400030; / 5 = 80006
    assert quote.inner == Sweep(D(80006), D(80000), D(5))
    # outer asks: 1 @ 9800 -> 9800 x 7.2 x 1.13 = 79732.8
    assert quote.outer == Sweep(D(9800), D(9800), D(1))
    assert quote.outer_converted == D("79732.8")
    # 80006 - 79732.8 = 273.2
    assert quote.basis == D("273.2")
    assert quote.direction is Direction.SELL_BASIS


def test_buying_the_basis_buys_inner_at_asks_and_sells_outer_at_bids():
    quote = make_pricer().executable(Direction.BUY_BASIS, INNER_BOOK, OUTER_BOOK, D(5), D(2), D("7.2"))

    # inner asks: 2 @ 80030 + 3 @ 80040 = 160060 + 240120 = 400180; / 5 = 80036
    assert quote.inner == Sweep(D(80036), D(80040), D(5))
    # outer bids: 1 @ 9790 + 1 @ 9789 = 19579; / 2 = 9789.5
    assert quote.outer == Sweep(D("9789.5"), D(9789), D(2))
    # 9789.5 x 7.2 = 70484.4; x 1.13 = 79647.372
    assert quote.outer_converted == D("79647.372")
    # 80036 - 79647.372 = 388.628
    assert quote.basis == D("388.628")


def test_executable_ratio_uses_the_swept_prices():
    quote = make_pricer(pair_config(formula="ratio")).executable(Direction.SELL_BASIS, INNER_BOOK, OUTER_BOOK,
                                                                 D(5), D(1), D("7.2"))

    # 80006 / 79732.8 = 1.00342643...
    assert abs(quote.basis * D("79732.8") - D(80006)) < D("1e-20")


@pytest.mark.parametrize("direction, inner, outer", [
    (Direction.SELL_BASIS, StubBook(asks=INNER_BOOK.asks), OUTER_BOOK),   # no inner bids to sell into
    (Direction.SELL_BASIS, INNER_BOOK, StubBook(bids=OUTER_BOOK.bids)),   # no outer asks to buy
    (Direction.BUY_BASIS, StubBook(bids=INNER_BOOK.bids), OUTER_BOOK),    # no inner asks to buy
    (Direction.BUY_BASIS, INNER_BOOK, StubBook(asks=OUTER_BOOK.asks)),    # no outer bids to sell into
])
def test_no_executable_quote_without_depth_on_the_side_to_hit(direction, inner, outer):
    assert make_pricer().executable(direction, inner, outer, D(5), D(1), D("7.2")) is None


# -- fx_rate -------------------------------------------------------------------------------------
def test_fixed_fx_rate_needs_no_book():
    assert fx_rate(None, usdcnh(rate=D("7.2"))) == D("7.2")


def test_fx_rate_from_a_book_is_its_mid():
    source = usdcnh(rate=None, venue="FX", symbol="USD/CNH")
    book = StubBook(bids=levels(("7.1990", 1)), asks=levels(("7.2010", 1)))

    # (7.1990 + 7.2010) / 2 = 7.2000
    assert fx_rate(book, source) == D("7.2")


@pytest.mark.parametrize("book", [None, StubBook(bids=levels(("7.1990", 1)), asks=levels(("7.2010", 1)), valid=False)])
def test_fx_rate_is_unknown_without_a_valid_book(book):
    assert fx_rate(book, usdcnh(rate=None, venue="FX", symbol="USD/CNH")) is None
