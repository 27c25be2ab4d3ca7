"""SHFE closes name the day a position was opened: close today (77=T) or close yesterday (Y), and
the exchange refuses a close of lots its bucket does not hold. Here SHFE's trading day ends while
the engine holds lots there (the simulator's ``end_of_day_s``: today's holdings become yesterday's
under the engine's feet). The engine's next close-today of them is refused; the refusal makes it
ask SHFE for its positions by day (SOD and TQ), and from then on its closes are split by open day:
the kill switch takes everything back to zero with close-yesterday orders that SHFE fills, and the
engine ends holding what the venues hold."""

from __future__ import annotations

import json
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.conftest import start_sim, wait_until
from tests.integration.test_crash import STRATEGY as CRASH_STRATEGY
from tests.integration.test_crash import _run, _sim_positions, _status
from tests.integration.test_repair import _rows, _scenario
from xmc_fix.control.client import request
from xmc_fix.fixwire import fields

pytestmark = pytest.mark.integration

EOD_S = 14
# positions are opened and held (the basis never comes back far enough to close them) until the
# kill switch takes them back
STRATEGY = CRASH_STRATEGY.replace("exit_above = 60", "exit_above = -5000").replace("exit_below = -60",
                                                                                  "exit_below = 5000")


def test_after_shfe_s_day_ends_the_engine_closes_yesterday_s_lots_as_yesterday_s(tmp_path):
    (tmp_path / "strategy.toml").write_text(STRATEGY)
    t0 = time.monotonic()
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, f"[venues.SHFE]\nend_of_day_s = {EOD_S}\n")])
    sock = Path(tempfile.mkdtemp(prefix="xmcd")) / "c.sock"
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    try:
        proc = _run(tmp_path, sim, db, sock, 60, None, 1)
        assert wait_until(lambda: (s := _status(sock)) is not None and len(s["venues_up"]) == 4, 30), \
            (tmp_path / "run1.log").read_text()[-3000:]
        # trade until SHFE's day ends, holding SHFE lots when it does
        assert wait_until(lambda: time.monotonic() - t0 > EOD_S + 1
                          and any(float(p["inner_lots"]) for p in _status(sock)["pairs"].values()), 30), \
            "no SHFE lots held after SHFE's end of day: nothing to close as yesterday's"
        time.sleep(2)
        request(sock, "flatten", timeout=10)
        assert wait_until(lambda: (s := _status(sock)) is not None and not s["open_tickets"]
                          and all(float(p["inner_lots"]) == 0 and float(p["outer_lots"]) == 0
                                  for p in s["pairs"].values()), 40), _status(sock)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        venue = _sim_positions(sim, "XMC01")
    finally:
        sim.proc.stop()

    at_sim = [fields(bytes(raw).decode() if not isinstance(raw, str) else raw) for (raw,) in
              _rows(sim.db_url, "select raw from fix_messages where session like '%SHFE->XMC' and msg_type in ('D', '8')")]
    closes_y = {d["11"] for d in at_sim if d.get("35") == "D" and d.get("77") == "Y"}
    filled = {d["11"] for d in at_sim if d.get("35") == "8" and d.get("150") == "F"}
    assert closes_y & filled, "no close-yesterday order of the engine was filled at SHFE"
    refused = [d for d in _rows(db, "select detail from events where kind = 'reconcile_started'") if "refused" in d[0]]
    assert refused, "a refused close did not make the engine ask SHFE for its positions"
    # the engine ends holding what SHFE holds
    (summary,) = _rows(db, "select summary from runs where role='engine' and summary is not null")[-1]
    engine = json.loads(summary)["positions"]
    assert float(engine.get("XMC01|SHFE_CU", 0)) == float(venue.get(("SHFE", "CU"), 0)), (engine, venue)
