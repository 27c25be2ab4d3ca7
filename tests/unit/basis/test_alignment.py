"""Quantity alignment: the lot pair chosen against every lot pair there is.

The documented objective (``align``'s docstring): both legs at or below ``target + tolerance`` and
within the lot limits; ``|residual + carry| <= tolerance``; among those, the largest matched quantity,
then the smallest ``|residual + carry|``, then the fewest lots. The property tests below enumerate
every lot pair within the limits and check that none beats the one ``align`` chose.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal as D

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xmc_fix.basis.alignment import Alignment, align
from xmc_fix.domain.instruments import Instrument
from tests.unit.factories import comex_hg, lme_ca, shfe_cu  # noqa: F401


# -- worked examples -------------------------------------------------------------------------------
def test_five_shfe_lots_match_one_lme_lot_exactly():
    a = align(D(25), shfe_cu(), lme_ca(), tolerance=D(0))

    # 5 x 5 t = 25 t = 1 x 25 t
    assert a == Alignment(D(5), D(1), D(25), D(25), "t")
    assert a.residual == 0
    assert a.matched == D(25)
    assert a.error == 0


def test_larger_target_takes_whole_multiples_of_the_exact_ratio():
    a = align(D(60), shfe_cu(), lme_ca(), tolerance=D(0))

    # 60 t fits two LME lots (50 t) and ten SHFE lots; a third LME lot (75 t) would exceed the target
    assert (a.inner_lots, a.outer_lots, a.residual) == (D(10), D(2), D(0))


def test_shfe_against_comex_hg_for_fifty_tonnes_is_nine_against_four():
    a = align(D(50), shfe_cu(), comex_hg(), tolerance=D("0.5"))

    # one HG lot = 25,000 lb x 0.00045359237 t/lb = 11.33980925 t
    # 4 HG lots  = 45.359237 t; the SHFE lots nearest: 9 (45 t, residual -0.359237) or
    #              10 (50 t, residual +4.640763, beyond 0.5)
    # 1-3 HG lots leave residuals of at least 0.98 t (3 lots: 34.01942775 t against 35 t)
    assert (a.inner_lots, a.outer_lots) == (D(9), D(4))
    assert a.inner_units == D(45)
    assert a.outer_units == D("45.359237")
    assert a.residual == D(45) - D("45.359237") == D("-0.359237")
    assert a.unit == "t"
    # matched is the smaller leg; error is |residual| over the larger: 0.359237 / 45.359237
    assert a.matched == D(45)
    assert a.error == D("0.359237") / D("45.359237")


def test_tolerance_too_tight_returns_none():
    # the best the 50 t target allows is 9 against 4 with a 0.359237 t residual
    assert align(D(50), shfe_cu(), comex_hg(), tolerance=D("0.35")) is None


def test_shfe_and_comex_never_match_exactly():
    # n x 11.33980925 is a multiple of 5 only for n a multiple of 20,000,000
    assert align(D(1000), shfe_cu(), comex_hg(), tolerance=D(0)) is None


def test_target_below_one_lot_returns_none():
    assert align(D(20), shfe_cu(), lme_ca(), tolerance=D(0)) is None


def test_a_carried_residual_is_offset():
    # earlier tickets left the inner leg 5 t long: this ticket sells 5 t less on the inner leg
    a = align(D(25), shfe_cu(), lme_ca(), tolerance=D(0), carry=D(5))

    # 4 x 5 t = 20 t against 25 t; residual -5 t, and -5 + 5 = 0
    assert (a.inner_lots, a.outer_lots) == (D(4), D(1))
    assert a.residual + D(5) == 0


def test_max_lots_limit_the_choice():
    a = align(D(100), shfe_cu(), lme_ca(), tolerance=D(0), max_outer_lots=D(2))

    assert (a.inner_lots, a.outer_lots) == (D(10), D(2))


def test_lot_step_on_the_inner_leg_is_respected():
    # inner only trades in pairs of lots: 5 lots is impossible, so one LME lot cannot be matched
    # exactly; two LME lots (50 t) match ten SHFE lots
    a = align(D(50), shfe_cu(lot_step=D(2), min_qty=D(2)), lme_ca(), tolerance=D(0))

    assert (a.inner_lots, a.outer_lots) == (D(10), D(2))


def test_larger_tolerance_still_prefers_the_most_matched_quantity():
    # with 12 t of tolerance, 25 t of target: 5 x 5 t against 1 x 25 t matches all 25 t
    a = align(D(25), shfe_cu(), lme_ca(), tolerance=D(12))

    assert a.matched == D(25)
    assert a.residual == 0


# -- brute force --------------------------------------------------------------------------------
def grid(inst: Instrument, upto: D) -> list[D]:
    """Every allowed lot count: multiples of the lot step, at least min_qty, at most ``upto``."""
    step = inst.lot_step
    first = (inst.min_qty / step).to_integral_value(ROUND_CEILING) * step
    out, n = [], first
    while n <= upto:
        out.append(n)
        n += step
    return out


def limits(target: D, tolerance: D, inst: Instrument, unit: str, max_lots: D | None) -> D:
    per_lot = inst.lots_to_units(D(1), unit)
    upto = ((target + tolerance) / per_lot).to_integral_value(ROUND_FLOOR)
    return upto if max_lots is None else min(upto, max_lots)


def objective(m: D, n: D, inner: Instrument, outer: Instrument, carry: D) -> tuple:
    iu, ou = inner.lots_to_units(m, inner.unit), outer.lots_to_units(n, inner.unit)
    return (min(iu, ou), -abs(iu - ou + carry), -(m + n))


def feasible(m: D, n: D, inner: Instrument, outer: Instrument, carry: D, tolerance: D) -> bool:
    iu, ou = inner.lots_to_units(m, inner.unit), outer.lots_to_units(n, inner.unit)
    return abs(iu - ou + carry) <= tolerance


def every_feasible_pair(target, inner, outer, tolerance, carry, max_inner, max_outer):
    inner_lots = grid(inner, limits(target, tolerance, inner, inner.unit, max_inner))
    outer_lots = grid(outer, limits(target, tolerance, outer, inner.unit, max_outer))
    return [(m, n) for m in inner_lots for n in outer_lots if feasible(m, n, inner, outer, carry, tolerance)]


INNERS = st.sampled_from([
    shfe_cu(),                                        # 5 t
    shfe_cu(contract_size=D(10)),                     # 10 t
    shfe_cu(contract_size=D(1)),                      # 1 t
    shfe_cu(lot_step=D(2), min_qty=D(2)),             # 5 t, in pairs of lots
    shfe_cu(min_qty=D(3)),                            # 5 t, at least 3 lots
])
OUTERS = st.sampled_from([
    lme_ca(),                                         # 25 t
    comex_hg(),                                       # 11.33980925 t
    lme_ca(contract_size=D(5)),                       # 5 t
    comex_hg(contract_size=D(100), unit="oz"),        # 0.00311034768 t, a gold-style small lot
    lme_ca(contract_size=D("2.5"), lot_step=D(3)),    # 2.5 t, in threes
])


@st.composite
def alignment_cases(draw):
    inner, outer = draw(INNERS), draw(OUTERS)
    target = draw(st.integers(min_value=1, max_value=1200).map(lambda k: D(k) / 10))
    tolerance = draw(st.integers(min_value=0, max_value=150).map(lambda k: D(k) / 10))
    carry = draw(st.integers(min_value=-150, max_value=150).map(lambda k: D(k) / 10))
    max_inner = draw(st.none() | st.integers(min_value=1, max_value=30).map(D))
    max_outer = draw(st.none() | st.integers(min_value=1, max_value=30).map(D))
    if outer.unit == "oz":  # keep the enumeration small: a few tonnes of 100 oz lots is already hundreds
        target = min(target, D(3))
    return target, inner, outer, tolerance, carry, max_inner, max_outer


def _run(case):
    target, inner, outer, tolerance, carry, max_inner, max_outer = case
    return align(target, inner, outer, tolerance=tolerance, carry=carry, max_inner_lots=max_inner,
                 max_outer_lots=max_outer)


@settings(max_examples=400, deadline=None)
@given(alignment_cases())
@example((D(100), shfe_cu(), comex_hg(), D(6), D(0), D(8), None))   # the inner lot limit cuts below the ideal
@example((D(25), shfe_cu(), lme_ca(), D(12), D(6), None, None))     # carry with a tolerance above one lot
def test_no_lot_combination_within_the_limits_beats_the_chosen_one(case):
    target, inner, outer, tolerance, carry, max_inner, max_outer = case

    chosen = _run(case)
    candidates = every_feasible_pair(target, inner, outer, tolerance, carry, max_inner, max_outer)

    if chosen is None:
        assert candidates == []
        return
    assert (chosen.inner_lots, chosen.outer_lots) in candidates
    best = max(objective(m, n, inner, outer, carry) for m, n in candidates)
    assert objective(chosen.inner_lots, chosen.outer_lots, inner, outer, carry) == best


@settings(max_examples=400, deadline=None)
@given(alignment_cases())
def test_chosen_lots_are_positive_on_the_grid_and_within_tolerance(case):
    target, inner, outer, tolerance, carry, max_inner, max_outer = case

    chosen = _run(case)

    if chosen is None:
        return
    assert chosen.inner_lots > 0 and chosen.outer_lots > 0
    assert chosen.inner_units > 0 and chosen.outer_units > 0
    assert inner.valid_qty(chosen.inner_lots) and outer.valid_qty(chosen.outer_lots)
    assert chosen.inner_units <= target + tolerance and chosen.outer_units <= target + tolerance
    assert max_inner is None or chosen.inner_lots <= max_inner
    assert max_outer is None or chosen.outer_lots <= max_outer
    assert abs(chosen.residual + carry) <= tolerance
    assert chosen.inner_units == inner.lots_to_units(chosen.inner_lots, "t")
    assert chosen.outer_units == outer.lots_to_units(chosen.outer_lots, "t")


@pytest.mark.parametrize("target, tolerance, expected", [
    (D(50), D("0.5"), (D(9), D(4))),
    (D(100), D("0.5"), (D(9), D(4))),     # 8 HG lots (90.718474 t) need 18 SHFE lots: residual 0.718474
    (D(100), D("0.75"), (D(18), D(8))),
])
def test_shfe_against_comex_for_other_targets(target, tolerance, expected):
    a = align(target, shfe_cu(), comex_hg(), tolerance=tolerance)

    assert (a.inner_lots, a.outer_lots) == expected
