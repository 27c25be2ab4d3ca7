"""Never trade on an old book: a venue whose connection stalls and then delivers what it held up in
one burst (the simulator's ``quiet``, played by its fault proxy). Every refresh of the burst is fresh
by our receive stamp and seconds old by the venue's: the engine applies it to the book, sheds the
decisions on it (a denial and an ``md_backlog`` alert) and opens no ticket on it.

The check that no ticket was decided on an old book is made from the audit alone, independently of
the engine's own arithmetic: for each ticket and each leg's venue, the last market-data message
received before the decision, its SendingTime, and that venue's smallest receipt-minus-SendingTime
over the run (its clock offset plus the fastest path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import SESSIONS, start_sim
from tests.integration.test_repair import _messages, _rows, _scenario
from xmc_fix.fixwire import parse_utc_ns

pytestmark = pytest.mark.integration

LIMIT_MS = 800
HOLD_MS = 2500
SCENARIO = f"""
[venues.LME]
quiet_rate = 0.5           # half of LME's orders stall its connection, market data included...
quiet_ms = [{HOLD_MS}, {HOLD_MS}]   # ...this long, then it delivers the backlog at once
"""


def _strategy(tmp_path: Path) -> Path:
    text = (SESSIONS / "strategy.toml").read_text()
    assert text.count("max_quote_age_ms = 3000") == 2
    p = tmp_path / "strategy.toml"
    p.write_text(text.replace("max_quote_age_ms = 3000", f"max_quote_age_ms = {LIMIT_MS}"))
    return p


def test_a_burst_of_held_up_market_data_is_not_traded_on(tmp_path):
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, SCENARIO)])
    try:
        from xmc_fix import app as A
        db = f"sqlite:///{tmp_path / 'engine.db'}"
        eng = A.engine_from_files(str(SESSIONS / "venues.cfg"), str(_strategy(tmp_path)), db, ports=sim.ports,
                                  store=str(tmp_path / "store-engine"), extra_credentials=sim.credentials,
                                  journal_path=str(tmp_path / "journal.jsonl"))
        eng.run(25)
    finally:
        sim.proc.stop()
    run = eng.run_id
    events = [(k, json.loads(d or "{}")) for k, d in
              _rows(db, "select kind, detail from events where run_id=:r", r=run)]
    shed = [d for k, d in events if k == "denial" and d.get("shed")]
    backlog = [d for k, d in events if k == "alert" and d.get("alert") == "md_backlog"]
    assert shed and backlog, "the burst was never noticed (no shed decision, no md_backlog alert)"

    # the venue's age of the market data behind every decision, from the audit alone
    md: dict[str, list[tuple[int, int]]] = {}
    for r in _messages(db, run, direction="in"):
        if r["msg_type"] in ("W", "X"):
            md.setdefault(r["venue"], []).append((r["ts_ns"], parse_utc_ns(r["sending_time"])))
    floor = {v: min(ts - sent for ts, sent in rows) for v, rows in md.items()}
    tickets = _rows(db, "select ticket_id, pair, created_ns from tickets where run_id=:r and intent != 'FLATTEN'",
                    r=run)
    assert tickets, "no ticket was opened: nothing shows the engine still trades on fresh data"
    legs = {p.name: (p.inner.venue, p.outer.venue) for p in eng.engine.pairs.values()}
    for tid, pair, created in tickets:
        for venue in legs[pair]:
            before = [(ts, sent) for ts, sent in md[venue] if ts <= created]
            ts, sent = before[-1]
            age_ms = (created - sent - floor[venue]) / 1e6
            assert age_ms <= LIMIT_MS, (f"{tid} decided on {venue} data {age_ms:.0f} ms old by the venue's clock "
                                        f"(limit {LIMIT_MS})")
    assert any(d.get("reason") == "STALE_QUOTE" for d in shed)
