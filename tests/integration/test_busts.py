"""What a venue does to a finished trade or a resting order on its own, over real sessions against
the simulator: a fill busted after its ticket completed re-opens the ticket, which is repaired; a
DAY order the venue declares done for the day ends, and its ticket is repaired; on a FIX 4.2
session the bust arrives as ExecTransType 1 (cancel) and is re-hedged the same way. Each run ends
with the engine's positions equal to what the simulator holds (compared once the sessions are
closed, as ``xmc demo`` does)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.conftest import SESSIONS, SimWorld, start_sim, wait_until
from tests.integration.test_repair import ONE_TICKET, ONE_TICKET_COMEX, _rows, _scenario, _strategy
from xmc_fix import demo as D

pytestmark = pytest.mark.integration


def _engine(tmp_path: Path, sim: SimWorld, strategy: str, sessions: Path = SESSIONS / "venues.cfg"):
    from xmc_fix import app as A
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    eng = A.engine_from_files(str(sessions), str(_strategy(tmp_path, strategy)), db, ports=sim.ports,
                              store=str(tmp_path / "store-engine"), extra_credentials=sim.credentials,
                              journal_path=str(tmp_path / "journal.jsonl"))
    return eng, db


def _first_ticket(eng):
    """(state, [to_state, ...]) of the engine's first ticket, or None before it exists."""
    def read(e):
        if not e.tickets:
            return None
        t = min(e.tickets.values(), key=lambda t: t.created_ns)
        return t.state.value, [tr.to_state.value for tr in t.transitions]
    return eng.serial.call(lambda: read(eng.engine))


def _reopened_and_repaired(eng) -> bool:
    seen = _first_ticket(eng)
    if seen is None:
        return False
    state, path = seen
    return "COMPLETED" in path and "LEGGED" in path[path.index("COMPLETED"):] and state in ("COMPLETED", "UNWOUND")


def _stop(eng, sim):
    """Stop the engine, comparing its positions with the simulator's; then the simulator."""
    try:
        return eng.stop(drain_s=3, venue_truth=lambda: D.sim_positions(sim.proc, sim.store))
    finally:
        sim.proc.stop()


def _assert_positions_equal(summary: dict) -> dict:
    truth = summary["position_truth"]
    assert truth["compared"] and truth["equal"], truth
    return {k: Decimal(v["engine"]) for k, v in truth["instruments"].items()}


def _alerts(db: str) -> list[str]:
    return [json.loads(d)["alert"] for (d,) in _rows(db, "select detail from events where kind='alert'")]


def _no_cl_ord_id_twice(sim: SimWorld) -> None:
    sent = [r[0] for r in _rows(sim.db_url, "select cl_ord_id from fix_messages where direction='in' and msg_type='D'")]
    assert len(sent) == len(set(sent)), "a ClOrdID reached the venue twice"


# -- a bust of a filled leg of a completed ticket -----------------------------------------------------------
def test_a_bust_of_a_completed_tickets_fill_reopens_it_and_the_repair_leaves_the_venues_equal_to_the_engine(
        tmp_path):
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(
        tmp_path, '[[script]]\nvenue = "LME"\norder = 1\naction = "bust"\nms = 400\n')])
    eng, db = _engine(tmp_path, sim, ONE_TICKET)
    try:
        eng.start()
        assert wait_until(lambda: _reopened_and_repaired(eng), 30), _first_ticket(eng)
    finally:
        summary = _stop(eng, sim)
    held = _assert_positions_equal(summary)
    state, path = _first_ticket(eng)
    assert path[:2] == ["WORKING", "COMPLETED"] and path[2:4] == ["LEGGED", "REPAIRING"], path
    if state == "COMPLETED":                     # chased: the pair holds its ticket again, at both venues
        assert (held["SHFE_CU"], held["LME_CA"]) == (Decimal(-5), Decimal(1)), held
    assert "trade_bust" in _alerts(db)
    [(venue, detail)] = _rows(db, "select venue, detail from events where kind='trade_bust'")
    bust = json.loads(detail)
    assert venue == "LME" and bust["old_qty"] == "1" and bust["position_change"] == "-1"
    causes = [c for (c,) in _rows(db, "select cause from ticket_events where to_state='LEGGED'")]
    assert causes and "outer 0/1" in causes[0], causes
    _no_cl_ord_id_twice(sim)


# -- a DAY order done for the day ----------------------------------------------------------------------------
# LME accepts the first order and holds it unmatched (a matching pause: `rest`), then ends it for the day
# 300 ms later; the ticket's SHFE leg has filled, so the ticket is legged and repaired (chased at LME, or
# SHFE unwound). Whatever the prices and however loaded the machine, the DAY order rests.
DAY_OUTER = ONE_TICKET.replace("outer_slippage_ticks = 80", "outer_slippage_ticks = 80\nouter_tif = \"DAY\"")


def test_a_day_order_the_venue_declares_done_for_the_day_ends_and_its_ticket_is_repaired(tmp_path):
    scenario = ('[[script]]\nvenue = "LME"\norder = 1\naction = "rest"\n\n'
                '[[script]]\nvenue = "LME"\norder = 1\naction = "done_for_day"\nms = 300\n')
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, scenario)])
    eng, db = _engine(tmp_path, sim, DAY_OUTER)
    try:
        eng.start()
        assert wait_until(lambda: (_first_ticket(eng) or ("",))[0] in ("COMPLETED", "UNWOUND"), 30), \
            _first_ticket(eng)
    finally:
        summary = _stop(eng, sim)
    _assert_positions_equal(summary)
    state, path = _first_ticket(eng)
    assert path[:3] == ["WORKING", "LEGGED", "REPAIRING"], path          # never WORKING for ever
    [(cl, status, cum, tif)] = _rows(db, "select cl_ord_id, status, cum_qty, tif from orders "
                                         "where venue='LME' and role='ENTRY'")
    assert (status, float(cum), tif) == ("DONE_FOR_DAY", 0.0, "DAY")
    causes = [c for (c,) in _rows(db, "select cause from ticket_events where to_state='LEGGED'")]
    assert "DONE_FOR_DAY" in causes[0], causes
    reports = [r for r in (bytes(raw).decode() for (raw,) in _rows(
        sim.db_url, "select raw from fix_messages where direction='out' and msg_type='8'")) if f"\x0111={cl}\x01" in r]
    assert any("\x01150=3\x01" in r and "\x0139=3\x01" in r for r in reports), reports   # what the venue said
    _no_cl_ord_id_twice(sim)


# -- FIX 4.2 ----------------------------------------------------------------------------------------------
def _fix42_sessions(tmp_path: Path) -> Path:
    """The engine's sessions file with COMEX's order session on FIX 4.2 (the simulator's COMEX speaks
    both) and its drop copy left on FIX 4.4. Paths made absolute."""
    text = (SESSIONS / "venues.cfg").read_text().replace("../fixspecs/", f"{SESSIONS.parent / 'fixspecs'}/")
    order = "[SESSION]\nVenue=COMEX\nOrderMassStatus=Y\nRequestForPositions=N\nDialect=FIX44\n"
    copy = "[SESSION]\nDropCopyFor=COMEX\nDialect=FIX44\nTargetCompID=COMEXDC\nSocketConnectPort=9883\n"
    assert order in text and copy in text
    text = text.replace(order, "[SESSION]\nVenue=COMEX\nBeginString=FIX.4.2\nOrderMassStatus=N\nRequestForPositions=N\n"
                               f"Dialect=FIX42\nTimestampPrecision=3\nDataDictionary={SESSIONS.parent}/fixspecs/FIX42.xml\n")
    path = tmp_path / "venues-fix42.cfg"
    path.write_text(text)
    return path


def test_on_a_fix42_session_a_bust_sent_as_exec_trans_type_cancel_is_re_hedged(tmp_path):
    # the orders follow the FIX 4.2 order session's dialect (HandlInst 21), not its FIX 4.4 drop copy's;
    # the Logon carries the password in RawData (96), FIX 4.2 having no Password (554)
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(
        tmp_path, '[[script]]\nvenue = "COMEX"\norder = 1\naction = "bust"\nms = 400\n')])
    eng, db = _engine(tmp_path, sim, ONE_TICKET_COMEX, _fix42_sessions(tmp_path))
    try:
        eng.start()
        assert wait_until(lambda: _reopened_and_repaired(eng), 30), _first_ticket(eng)
    finally:
        summary = _stop(eng, sim)
    held = _assert_positions_equal(summary)
    state, path = _first_ticket(eng)
    assert path[:4] == ["WORKING", "COMPLETED", "LEGGED", "REPAIRING"], path
    if state == "COMPLETED":
        assert (held["SHFE_CU"], held["COMEX_HG"]) == (Decimal(-9), Decimal(4)), held
    # the bust as FIX 4.2 writes it: ExecTransType 1 with ExecType 1 (it would read as a fill without 20)
    raws = [bytes(r).decode() for (r,) in _rows(db, "select raw from fix_messages where direction='in' and "
                                                "msg_type='8' and session='FIX.4.2:XMC->COMEX'")]
    busts = [r for r in raws if "\x0120=1\x01" in r]
    assert len(busts) == 1 and "\x01150=1\x01" in busts[0] and "\x0119=" in busts[0], busts
    [(venue, detail)] = _rows(db, "select venue, detail from events where kind='trade_bust'")
    bust = json.loads(detail)
    assert venue == "COMEX" and bust["old_qty"] == "4" and bust["position_change"] == "-4"
    orders = [bytes(r).decode() for (r,) in _rows(sim.db_url, "select raw from fix_messages where direction='in' and "
                                                  "msg_type='D' and session like 'FIX.4.2:%'")]
    assert len(orders) >= 2 and all("\x0121=1\x01" in o for o in orders)     # the entry and the re-hedge
    # the FIX 4.2 Logon carried the password in RawData, and the audit holds it masked
    [logon] = [bytes(r).decode() for (r,) in _rows(db, "select raw from fix_messages where direction='out' and "
                                                   "msg_type='A' and session='FIX.4.2:XMC->COMEX'")][:1]
    assert "\x01554=" not in logon and re.search("\x0195=(\\d+)\x0196=\\*+\x01", logon), logon
    _no_cl_ord_id_twice(sim)
