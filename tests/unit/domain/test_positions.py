"""The position ledger: average cost, realised P&L and flips; positions per instrument, account and pair."""

from __future__ import annotations

from decimal import Decimal as D

from xmc_fix.domain.enums import LegRole, Side
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.positions import Ledger

SHFE = Instrument("SHFE_CU", "SHFE", "CU", "CNY", D(5), "t", D(10), max_order_qty=D(50))


def test_realised_pnl_uses_average_cost_and_handles_flips():
    ledger = Ledger()
    assert ledger.on_fill("P", SHFE, Side.BUY, D(2), D(77000)) == 0
    assert ledger.on_fill("P", SHFE, Side.BUY, D(2), D(77100)) == 0          # long 4 at 77050
    # sell 3 at 77200: (77200 - 77050) x 3 lots x 5 t = 2250
    assert ledger.on_fill("P", SHFE, Side.SELL, D(3), D(77200)) == D(2250)
    # sell 3 more at 76950: closes the last lot (76950 - 77050) x 1 x 5 = -500, then short 2 at 76950
    assert ledger.on_fill("P", SHFE, Side.SELL, D(3), D(76950)) == D(-500)
    assert ledger.positions["SHFE_CU"] == D(-2)
    # buy 2 at 76900: (76900 - 76950) x 2 x 5 x (-1) = +500
    assert ledger.on_fill("P", SHFE, Side.BUY, D(2), D(76900)) == D(500)
    assert ledger.positions["SHFE_CU"] == 0


def test_a_fill_counts_for_its_instrument_its_account_and_its_pair_leg():
    ledger = Ledger()
    ledger.on_fill("P", SHFE, Side.SELL, D(5), D(77000), leg=LegRole.INNER, account="ACC1")
    ledger.on_fill("Q", SHFE, Side.BUY, D(2), D(77000), leg=LegRole.INNER, account="ACC2")
    assert ledger.position("SHFE_CU") == D(-3)
    assert ledger.by_account[("ACC1", "SHFE_CU")] == D(-5) and ledger.by_account[("ACC2", "SHFE_CU")] == D(2)
    assert ledger.leg_lots("P", LegRole.INNER) == D(-5) and ledger.leg_lots("Q", LegRole.INNER) == D(2)
    assert ledger.leg_lots("P", LegRole.OUTER) == 0
    ledger.add_working(SHFE, Side.BUY, D(4))
    assert ledger.exposure_lots("SHFE_CU") == D(7) and ledger.gross([SHFE]) == D(7)
