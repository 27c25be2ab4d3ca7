"""Unit conversions with the exact legal constants, and the instrument's lot and tick arithmetic."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmc_fix.domain.enums import Side
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.units import dimension, price_factor, quantity_factor
from xmc_fix.errors import ConfigError

# The international avoirdupois pound is 0.45359237 kg exactly; the troy ounce 31.1034768 g exactly.
LB_IN_T = D("0.00045359237")
OZ_IN_T = D("0.0000311034768")


def make_instrument(**overrides) -> Instrument:
    fields = dict(name="SHFE_CU", venue="SHFE", symbol="CU", currency="CNY", contract_size=D(5), unit="t",
                  tick=D(10))
    return Instrument(**{**fields, **overrides})


# -- units -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("from_unit, to_unit, expected", [
    ("lb", "t", LB_IN_T),
    ("lb", "kg", D("0.45359237")),
    ("oz", "t", OZ_IN_T),
    ("oz", "kg", D("0.0311034768")),
    ("kg", "t", D("0.001")),
    ("t", "kg", D(1000)),
    ("t", "t", D(1)),
    ("bbl", "bbl", D(1)),
])
def test_quantity_factor_is_exact_where_the_constants_allow(from_unit, to_unit, expected):
    assert quantity_factor(from_unit, to_unit) == expected


def test_one_tonne_is_1_over_0_45359237e_minus_3_pounds():
    # 1 / 0.00045359237 = 2204.622621848775807229738013... (28 significant digits)
    assert quantity_factor("t", "lb") == D(1) / LB_IN_T
    assert str(quantity_factor("t", "lb")).startswith("2204.6226218487758")


def test_troy_ounces_in_a_pound():
    # 0.45359237 kg / 0.0311034768 kg = 14.58333...: 175 troy ounces in 12 avoirdupois pounds
    assert abs(quantity_factor("lb", "oz") - D(175) / D(12)) < D("1e-25")


def test_cubic_metre_is_6_29_barrels():
    # one US oil barrel is 0.158987294928 m3 exactly
    assert abs(quantity_factor("m3", "bbl") * D("0.158987294928") - 1) < D("1e-25")


@given(st.sampled_from(["t", "kg", "lb", "oz"]), st.sampled_from(["t", "kg", "lb", "oz"]))
def test_conversion_there_and_back_is_one(a, b):
    assert abs(quantity_factor(a, b) * quantity_factor(b, a) - 1) < D("1e-25")


def test_price_factor_is_the_inverse_direction_of_quantity_factor():
    # a price per lb times the pounds in a tonne is a price per tonne
    assert price_factor("lb", "t") == quantity_factor("t", "lb")
    assert price_factor("t", "lb") == LB_IN_T


def test_four_dollars_a_pound_is_8818_49_dollars_a_tonne():
    # 4 / 0.00045359237 = 8818.490487395103...
    assert (D(4) * price_factor("lb", "t")).quantize(D("0.01")) == D("8818.49")


def test_price_per_troy_ounce_to_price_per_kg():
    # 2000 USD/oz x (1 / 0.0311034768 oz per kg) = 64301.49... USD/kg
    assert (D(2000) * price_factor("oz", "kg")).quantize(D("0.01")) == D("64301.49")


@pytest.mark.parametrize("a, b", [("t", "bbl"), ("lb", "m3"), ("unit", "t"), ("bbl", "oz")])
def test_units_of_different_dimensions_do_not_convert(a, b):
    with pytest.raises(ConfigError, match="cannot convert"):
        quantity_factor(a, b)


@pytest.mark.parametrize("a, b", [("tonne", "t"), ("t", "pound")])
def test_unknown_unit_is_a_config_error_naming_it(a, b):
    with pytest.raises(ConfigError) as info:
        quantity_factor(a, b)
    assert "unknown unit" in str(info.value)
    assert info.value.remedy


@pytest.mark.parametrize("unit, dim", [("t", "mass"), ("lb", "mass"), ("oz", "mass"), ("kg", "mass"),
                                       ("bbl", "volume"), ("m3", "volume"), ("unit", "count")])
def test_dimension_of_each_unit(unit, dim):
    assert dimension(unit) == dim


# -- instruments: lots ------------------------------------------------------------------------------
def test_lots_to_units_defaults_to_the_contract_unit():
    assert make_instrument().lots_to_units(D(9)) == D(45)


def test_comex_hg_lot_is_11_33980925_tonnes():
    hg = make_instrument(name="COMEX_HG", contract_size=D(25000), unit="lb", tick=D("0.0005"))

    # 25,000 lb x 0.00045359237 t/lb = 11.33980925 t, exactly
    assert hg.lots_to_units(D(1), "t") == D("11.33980925")
    assert hg.lots_to_units(D(4), "t") == D("45.359237")
    assert hg.lots_to_units(D(4), "lb") == D(100000)


@pytest.mark.parametrize("qty, ok", [(D(1), True), (D(2), True), (D("1.5"), False), (D(0), False), (D(-2), False)])
def test_valid_qty_needs_min_qty_and_the_lot_step(qty, ok):
    assert make_instrument().valid_qty(qty) is ok


def test_valid_qty_with_a_lot_step_of_two():
    inst = make_instrument(lot_step=D(2), min_qty=D(2))
    assert [inst.valid_qty(D(n)) for n in range(1, 6)] == [False, True, False, True, False]


def test_key_is_venue_and_symbol():
    assert make_instrument().key == ("SHFE", "CU")


# -- instruments: ticks ------------------------------------------------------------------------------
@pytest.mark.parametrize("tick, price, buy, sell", [
    (D(10), D("71234"), D("71230"), D("71240")),
    (D(10), D("71230"), D("71230"), D("71230")),
    (D("0.5"), D("9800.3"), D("9800.0"), D("9800.5")),
    (D("0.0005"), D("4.05123"), D("4.0510"), D("4.0515")),
    (D(25), D("1234567.891"), D("1234550"), D("1234575")),
    (D("0.01"), D("-37.634"), D("-37.64"), D("-37.63")),
])
def test_round_price_goes_to_the_passive_side_of_the_tick_grid(tick, price, buy, sell):
    inst = make_instrument(tick=tick)

    assert inst.round_price(price, Side.BUY) == buy
    assert inst.round_price(price, Side.SELL) == sell


TICKS = st.sampled_from([D(10), D(5), D(1), D(25), D(100), D("0.5"), D("0.01"), D("0.0005"), D("0.00001"),
                         D("1E+1"), D("1E+2"), D("5E+1"), D("10.0")])
PRICES = st.decimals(min_value=D("0.01"), max_value=D("10000000"), places=5, allow_nan=False,
                     allow_infinity=False)


@given(TICKS, PRICES)
def test_round_price_never_pays_more_on_a_buy_nor_accepts_less_on_a_sell(tick, price):
    inst = make_instrument(tick=tick)

    buy, sell = inst.round_price(price, Side.BUY), inst.round_price(price, Side.SELL)

    assert buy <= price <= sell
    assert price - buy < tick
    assert sell - price < tick
    assert inst.on_tick(buy) and inst.on_tick(sell)


@given(TICKS, PRICES, st.sampled_from(Side))
def test_round_price_output_is_never_in_exponent_notation(tick, price, side):
    text = str(make_instrument(tick=tick).round_price(price, side))

    assert "E" not in text and "e" not in text


@given(TICKS, PRICES, st.sampled_from(Side))
def test_a_price_already_on_the_grid_is_unchanged(tick, price, side):
    inst = make_instrument(tick=tick)
    on_grid = inst.round_price(price, Side.BUY)

    assert inst.round_price(on_grid, side) == on_grid


def test_on_tick():
    inst = make_instrument(tick=D("0.5"))
    assert inst.on_tick(D("9800.5"))
    assert not inst.on_tick(D("9800.3"))
