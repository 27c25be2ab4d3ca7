"""Market data and calendars against the real simulator over real sessions: tickets open while the
basis is crossed and both markets trade, stop while a leg's quotes are stale, pause for a market
break, and start exactly when a market opens across a daylight-saving change — each refusal with
its reason. The engine's clock is moved to the moment under test (OffsetClock); the books and
sessions are real."""

from __future__ import annotations

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import SESSIONS, start_sim
from tests.integration.test_repair import ONE_TICKET, _rows, _scenario
from xmc_fix import app as A
from xmc_fix.clock import OffsetClock

pytestmark = pytest.mark.integration
S = 1_000_000_000


def _at(local: str, tz: str) -> int:
    """Epoch ns of a local wall-clock time."""
    return int(dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).timestamp()) * S


def _run(tmp_path, sim, strategy_text: str, start_ns: int, seconds: float):
    p = tmp_path / "strategy.toml"
    p.write_text(strategy_text)
    clock = OffsetClock(start_ns - time.time_ns())
    eng = A.engine_from_files(str(SESSIONS / "venues.cfg"), str(p), f"sqlite:///{tmp_path / 'engine.db'}",
                              ports=sim.ports, store=str(tmp_path / "store-engine"), extra_credentials=sim.credentials,
                              journal_path=str(tmp_path / "journal.jsonl"), control_path=str(tmp_path / "c.sock")
                              if len(str(tmp_path)) < 90 else None, clock=clock)
    eng.run(seconds)
    return eng, clock


def _alerts(db):
    return [json.loads(d) | {"ts_ns": ts} for d, ts in _rows(db, "select detail, ts_ns from events where kind='alert'")]


def test_tickets_follow_the_basis_stop_on_stale_quotes_and_pause_for_the_lunch_break(tmp_path):
    # LME's feed is silent from 3 s to 6 s after the simulator starts
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(
        tmp_path, "[venues.LME]\nmd_freeze_s = [3, 6]\n")])
    text = (ONE_TICKET.replace("max_position = 25", "max_position = 100000")
            .replace("max_quote_age_ms = 3000", "max_quote_age_ms = 700")
            .replace('calendar = "ALWAYS"      # the simulated venues trade around the clock; "SHFE" for the '
                     "exchange's hours", 'calendar = "SHFE"'))
    # Monday 2026-11-23, 11:29:51 in Shanghai: the morning session ends at 11:30 (lunch until 13:30)
    lunch = _at("2026-11-23T11:30:00", "Asia/Shanghai")
    try:
        eng, clock = _run(tmp_path, sim, text, lunch - 9 * S, 13)
    finally:
        sim.proc.stop()
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    created = sorted(c for (c,) in _rows(db, "select created_ns from tickets"))
    assert len(created) >= 5, "the crossed basis did not open tickets"
    # crossings: tickets kept opening up to the break, none after it
    assert created[-1] < lunch and created[-1] > lunch - 3 * S, [(c - lunch) / S for c in created[-5:]]
    closed = [a for a in _alerts(db) if a["alert"] == "market_closed"]
    assert closed and "lunch" in closed[0]["message"] and abs(closed[0]["ts_ns"] - lunch) < S // 2
    # stale quotes: refused with the reason while LME was silent, and no ticket in that time
    stale = [json.loads(d) | {"ts": ts}   # engine clock: decisions and events share one time base
             for d, ts in _rows(db, "select detail, ts_ns from events where kind='denial'")
             if json.loads(d)["reason"] == "STALE_QUOTE"]
    assert stale and "LME quote" in stale[0]["detail"]
    t_stale = stale[0]["ts"]
    assert not [c for c in created if t_stale <= c < t_stale + int(1.5 * S)]
    assert [c for c in created if t_stale + int(1.5 * S) <= c < lunch], "trading did not resume after the freeze"


def test_a_market_opens_at_its_local_time_across_a_daylight_saving_change(tmp_path):
    """CME Globex opens Sunday 17:00 Chicago. On 2026-03-08 Chicago moved to daylight time that
    morning, so the open is 22:00 UTC (it was 23:00 UTC the Sunday before)."""
    sim = start_sim(tmp_path)
    head = ONE_TICKET.split("[pairs.CU_SHFE_LME]")[0]
    text = head.replace('calendar = "ALWAYS"      # "CME" for Globex\'s hours in America/Chicago',
                        'calendar = "CME"') + """
[pairs.LME_COMEX]
inner = "LME_CA"
outer = "COMEX_HG"
ticket_qty = 25
max_position = 100000
entry_above = -100000
exit_above = -200000
residual_tolerance = 3
outer_slippage_ticks = 8
max_quote_age_ms = 3000
"""
    open_utc = _at("2026-03-08T22:00:00", "UTC")
    assert open_utc == _at("2026-03-08T17:00:00", "America/Chicago")   # the time zone database agrees
    try:
        eng, clock = _run(tmp_path, sim, text, open_utc - 5 * S, 9)
    finally:
        sim.proc.stop()
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    created = sorted(c for (c,) in _rows(db, "select created_ns from tickets"))
    assert created, "no ticket after the open"
    assert open_utc <= created[0] < open_utc + 2 * S, (created[0] - open_utc) / S
    closed = [a for a in _alerts(db) if a["alert"] == "market_closed"]
    assert closed and "COMEX" in closed[0]["message"] and closed[0]["ts_ns"] < open_utc
    reopened = [a for a in _alerts(db) if a["alert"] == "state_change" and "markets open" in a["message"]]
    assert reopened and abs(reopened[0]["ts_ns"] - open_utc) < S // 2
