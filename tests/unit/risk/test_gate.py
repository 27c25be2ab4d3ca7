"""The pre-trade gate: every check at its boundary, every (state, order kind) pair, and the day's
counters (rates, rejects); positions and realised P&L come from the ledger (tests/unit/domain/test_positions.py)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from xmc_fix.config import AccountLimits, InstrumentLimits, PairLimits, RiskConfig
from xmc_fix.domain.enums import Side, TradingState
from xmc_fix.domain.instruments import Instrument
from xmc_fix.risk import gate as g
from xmc_fix.risk.gate import ALLOWED, DenyReason, LegPlan, OrderKind, RiskGate

SHFE = Instrument("SHFE_CU", "SHFE", "CU", "CNY", D(5), "t", D(10), max_order_qty=D(50))
LME = Instrument("LME_CA", "LME", "CA", "USD", D(25), "t", D("0.5"), max_order_qty=D(10))
A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
S = 1_000_000_000


@pytest.mark.parametrize("kind", list(OrderKind), ids=lambda k: k.value)
@pytest.mark.parametrize("global_state", [A, R, H], ids=lambda s: f"global-{s.value}")
@pytest.mark.parametrize("pair_state", [A, R, H], ids=lambda s: f"pair-{s.value}")
def test_every_state_lets_through_exactly_its_order_kinds(kind, global_state, pair_state):
    d = g.check_state(kind, global_state, pair_state, "P")
    if kind not in ALLOWED[global_state]:        # the global scope is reported first
        expected = DenyReason.GLOBAL_HALTED if global_state is H else DenyReason.REDUCING_ONLY
    elif kind not in ALLOWED[pair_state]:
        expected = DenyReason.PAIR_HALTED if pair_state is H else DenyReason.REDUCING_ONLY
    else:
        expected = None
    assert (d.reason if d else None) is expected


def test_halted_allows_only_the_flatten_path_and_reducing_only_what_reduces():
    assert ALLOWED[H] == {OrderKind.FLATTEN}
    assert ALLOWED[R] == {OrderKind.CLOSE, OrderKind.CHASE, OrderKind.UNWIND, OrderKind.FLATTEN}
    assert ALLOWED[A] == set(OrderKind)


# (check, arguments at the limit: passes, arguments past it: denied, the reason)
BOUNDARIES = [
    (g.check_session, (True, "LME"), (False, "LME"), DenyReason.SESSION_DOWN),
    (g.check_quote_age, (500.0, 500, "LME"), (500.1, 500, "LME"), DenyReason.STALE_QUOTE),
    (g.check_fx_age, (1000.0, 1000), (1000.5, 1000), DenyReason.STALE_FX),
    (g.check_depth, (D(5), D(5), "SHFE"), (D(4), D(5), "SHFE"), DenyReason.NO_DEPTH),
    (g.check_order_qty, (D(10), D(10), "LME"), (D(11), D(10), "LME"), DenyReason.MAX_ORDER_QTY),
    # 77300 x 5 lots x 5 t = 1,932,500 CNY
    (g.check_notional, (D(77300), D(5), SHFE, D(1932500)), (D(77300), D(5), SHFE, D(1932499)),
     DenyReason.MAX_ORDER_NOTIONAL),
    # 1% of 77000 is 770: a buy at 77770 is exactly 1% away
    (g.check_collar, (D(77770), D(77000), D(1), SHFE), (D(77780), D(77000), D(1), SHFE), DenyReason.PRICE_COLLAR),
    # 3 ticks of 10 over the decision price 77000
    (g.check_slippage, (D(77030), D(77000), Side.BUY, 3, SHFE), (D(77040), D(77000), Side.BUY, 3, SHFE),
     DenyReason.SLIPPAGE),
    (g.check_slippage, (D(76970), D(77000), Side.SELL, 3, SHFE), (D(76960), D(77000), Side.SELL, 3, SHFE),
     DenyReason.SLIPPAGE),
    # long 8, 2 more working to buy, buying 10 more: 20 vs limit 20 / 21
    (g.check_instrument_position, (D(8), D(2), Side.BUY, D(10), D(20), SHFE),
     (D(8), D(2), Side.BUY, D(11), D(20), SHFE), DenyReason.MAX_INSTRUMENT_POSITION),
    (g.check_account, (D(90), D(10), D(100), "SHFE"), (D(91), D(10), D(100), "SHFE"), DenyReason.MAX_ACCOUNT_POSITION),
    # 400,000 used + 5 lots x 40,000 = 600,000
    (g.check_funds, (D(400000), D(5), D(40000), D(600000), "SHFE"), (D(400001), D(5), D(40000), D(600000), "SHFE"),
     DenyReason.INSUFFICIENT_FUNDS),
    (g.check_net_exposure, (D(-25), D(75), D(50), "P"), (D(-25), D(76), D(50), "P"), DenyReason.MAX_NET_EXPOSURE),
    (g.check_pair_position, (D(-50), D(50), "P"), (D(-51), D(50), "P"), DenyReason.MAX_POSITION),
    (g.check_daily_loss, (D(-999), D(1000), "P"), (D(-1000), D(1000), "P"), DenyReason.DAILY_LOSS),
    (g.check_rate, (1.0, 1, "LME", 50), (0.99, 1, "LME", 50), DenyReason.MESSAGE_RATE),
]


@pytest.mark.parametrize("check, ok, bad, reason", BOUNDARIES, ids=lambda x: getattr(x, "__name__", None))
def test_each_check_passes_at_its_limit_and_denies_past_it(check, ok, bad, reason):
    assert check(*ok) is None
    d = check(*bad)
    assert d is not None and d.reason is reason and d.detail


def test_reducing_a_position_is_never_held_to_the_position_limit():
    # short 30 against a limit of 20 (e.g. after a late fill): buying 5 brings it closer, allowed
    assert g.check_instrument_position(D(-30), D(0), Side.BUY, D(5), D(20), SHFE) is None


def test_unset_limits_never_deny():
    assert g.check_notional(D(1e9), D(1000), SHFE, None) is None
    assert g.check_collar(D(1), D(77000), None, SHFE) is None
    assert g.check_funds(D(10**12), D(10**6), D(40000), None, "SHFE") is None
    assert g.check_daily_loss(D(-10**9), None, "P") is None


def test_message_budget_refills_at_the_configured_rate():
    gate = RiskGate(RiskConfig(max_message_rate=10))
    t = 1 * S
    for _ in range(10):
        assert gate.available("LME", t) >= 1
        gate.spend("LME", t)
    assert gate.available("LME", t) < 1
    assert gate.available("LME", t + S // 10) == pytest.approx(1.0)   # 10 a second: one per 100 ms
    assert gate.available("LME", t + 5 * S) == 10.0                    # never more than a second's worth


def test_reject_share_is_measured_over_the_last_window_of_orders():
    gate = RiskGate(RiskConfig(reject_window=4))
    shares = [gate.record_outcome("LME", r) for r in (True, False, True, True, False, False)]
    # the window is full from the 4th order: 3/4, then (F,T,T,F) 2/4, then (T,T,F,F) 2/4
    assert shares == [0, 0, 0, D("0.75"), D("0.5"), D("0.5")]


def _ticket_gate(**risk):
    cfg = RiskConfig(instruments={"SHFE_CU": InstrumentLimits(max_position=D(10), margin_per_lot=D(40000))},
                     accounts={"SHFE": AccountLimits(funds=D(400000))},
                     pairs={"P": PairLimits(max_net_exposure=D(50))}, **risk)
    return RiskGate(cfg)


def _legs(inner_lots=D(5), outer_lots=D(1)):
    return (LegPlan(SHFE, Side.SELL, inner_lots, D(77000), D(77010), 1, D(77010), D(20), -inner_lots * 5),
            LegPlan(LME, Side.BUY, outer_lots, D(9502), D(9501), 2, D(9501), D(5), outer_lots * 25))


def _check(gate, legs, kind=OrderKind.OPEN, **kw):
    args = dict(pair="P", global_state=A, pair_state=A, sessions_up=(True, True), quote_ages_ms=(10.0, 10.0),
                max_quote_age_ms=500, fx_age_ms=None, max_fx_age_ms=5000, position_after=D(-25),
                max_position=D(50), pair_net=D(0), now_ns=S, venue_instruments={"SHFE": [SHFE], "LME": [LME]})
    args.update(kw)
    return gate.check_ticket(kind, legs, **args)


def test_a_ticket_within_every_limit_passes():
    assert _check(_ticket_gate(), _legs()) is None


def test_worst_case_each_leg_alone_is_held_to_the_limits():
    gate = _ticket_gate()
    gate.ledger.positions["SHFE_CU"] = D(-6)        # short 6; selling 5 more could reach -11 > 10
    d = _check(gate, _legs())
    assert d.reason is DenyReason.MAX_INSTRUMENT_POSITION
    gate.ledger.positions["SHFE_CU"] = D(-5)        # -10: at the limit, but margin: 10 lots x 40,000 = 400,000 ok
    assert _check(gate, _legs()) is None
    gate.ledger.add_working(SHFE, Side.BUY, D(1))   # one more lot of margin in working orders: 440,000 > 400,000
    assert _check(gate, _legs()).reason is DenyReason.INSUFFICIENT_FUNDS


def test_worst_case_net_exposure_if_only_one_leg_fills():
    # already 30 t net short on the inner; if only the inner sells another 25 t: 55 > 50
    d = _check(_ticket_gate(), _legs(), pair_net=D(-30))
    assert d.reason is DenyReason.MAX_NET_EXPOSURE


def test_daily_loss_blocks_opening_but_not_closing():
    gate = _ticket_gate()
    gate.cfg.pairs["P"] = PairLimits(max_net_exposure=D(50), daily_loss_limit=D(1000))
    gate.ledger.realised["P"] = D(-1000)
    assert _check(gate, _legs()).reason is DenyReason.DAILY_LOSS
    assert _check(gate, _legs(), kind=OrderKind.CLOSE) is None


def test_state_and_sessions_and_staleness_come_before_limits():
    gate = _ticket_gate()
    assert _check(gate, _legs(), pair_state=H).reason is DenyReason.PAIR_HALTED
    assert _check(gate, _legs(), sessions_up=(True, False)).reason is DenyReason.SESSION_DOWN
    assert _check(gate, _legs(), quote_ages_ms=(10.0, 501.0)).reason is DenyReason.STALE_QUOTE
    assert _check(gate, _legs(), fx_age_ms=6000.0).reason is DenyReason.STALE_FX
    assert _check(gate, _legs(), stopping=True).reason is DenyReason.ENGINE_STOPPING


def test_flatten_orders_pass_while_halted_and_are_not_held_to_position_limits():
    gate = _ticket_gate()
    gate.ledger.positions["SHFE_CU"] = D(-20)      # beyond the limit (a breach): flattening must still work
    leg = LegPlan(SHFE, Side.BUY, D(20), D(77200), None, 0, D(77010))
    assert gate.check_order(OrderKind.FLATTEN, leg, pair="P", global_state=H, pair_state=H, session_up=True,
                            now_ns=S, venue_instruments=[SHFE]) is None
    assert gate.check_order(OrderKind.CHASE, leg, pair="P", global_state=A, pair_state=H, session_up=True,
                            now_ns=S, venue_instruments=[SHFE]).reason is DenyReason.PAIR_HALTED
