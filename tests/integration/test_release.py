"""Gray release over real sessions: on a running engine `xmc set-size` caps the pair's live tickets
and `xmc set-mode shadow` stops its orders (the simulator receives none), both answered over the
control socket and audited; after a restart the engine comes back in shadow with the same cap (from
its journal), and `set-mode live` sends capped orders again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, SESSIONS, start_sim, wait_until
from tests.integration.test_repair import ONE_TICKET, _rows
from xmc_fix import app as A

pytestmark = pytest.mark.integration

PAIR = "CU_SHFE_LME"
# 50 t tickets (10 SHFE lots of 5 t against 2 LME lots of 25 t), trading on every book update
STRATEGY = ONE_TICKET.replace("ticket_qty = 25\nmax_position = 25", "ticket_qty = 50\nmax_position = 100000")


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="xmc")   # Unix socket paths must stay short
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def _xmc(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", os.devnull, *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def _until_accepted(*args) -> subprocess.CompletedProcess:
    """A change is refused while a ticket of the pair is open: ask again until one is not."""
    box = []

    def ok():
        box.append(_xmc(*args))
        return box[-1].returncode == 0
    assert wait_until(ok, timeout=30), f"xmc {' '.join(args)} never accepted: {box[-1].stdout} {box[-1].stderr}"
    return box[-1]


def _shfe_orders_since(sim_db: str, t_ns: int) -> list[Decimal]:
    """Quantities of the NewOrderSingles SHFE received after ``t_ns``, by the simulator's own record."""
    rows = _rows(sim_db, "select raw from fix_messages where direction='in' and msg_type='D' and venue='SHFE' "
                         "and ts_ns > :t", t=t_ns)
    out = []
    for (raw,) in rows:
        fields = dict(f.split("=", 1) for f in bytes(raw).decode().split("\x01") if "=" in f)
        out.append(Decimal(fields["38"]))
    return out


def test_mode_and_size_change_on_a_running_engine_and_survive_a_restart(tmp_path, sockdir):
    sim = start_sim(tmp_path)
    strategy = tmp_path / "strategy.toml"
    strategy.write_text(STRATEGY)
    sock = sockdir / "x.sock"
    db = f"sqlite:///{tmp_path / 'engine.db'}"

    def engine():
        return A.engine_from_files(str(SESSIONS / "venues.cfg"), str(strategy), db, ports=sim.ports,
                                   store=str(tmp_path / "store-engine"), extra_credentials=sim.credentials,
                                   journal_path=str(tmp_path / "journal.jsonl"), control_path=str(sock))

    def status() -> dict:
        return json.loads(_xmc("status", "--socket", str(sock), "--json").stdout)["pairs"][PAIR]

    try:
        eng = engine()
        eng.start()
        try:
            assert wait_until(lambda: len(_shfe_orders_since(sim.db_url, 0)) >= 2, timeout=30), "no trading"
            assert set(_shfe_orders_since(sim.db_url, 0)) == {Decimal(10)}      # full 50 t tickets
            res = _until_accepted("set-size", "--socket", str(sock), "--pair", PAIR, "25")
            assert "25" in res.stdout, res.stdout
            capped_at = time.time_ns()
            assert wait_until(lambda: len(_shfe_orders_since(sim.db_url, capped_at)) >= 2, timeout=30)
            _until_accepted("set-mode", "--socket", str(sock), "--pair", PAIR, "shadow")
            shadow_at = time.time_ns()
            st = status()
            assert st["mode"] == "shadow" and Decimal(st["live_max_qty"]) == 25
            time.sleep(2)
        finally:
            eng.stop()
        capped = _shfe_orders_since(sim.db_url, capped_at)
        assert capped and set(capped) == {Decimal(5)}, capped           # 25 t: 5 SHFE lots
        assert _shfe_orders_since(sim.db_url, shadow_at) == [], "a shadow pair sent an order"
        # the shadow pair went on deciding, on paper
        assert _rows(db, "select count(*) from events where kind='shadow_ticket' and run_id=:r and ts_ns > :t",
                     r=eng.run_id, t=shadow_at)[0][0] >= 1
        changes = [json.loads(d) for (d,) in _rows(db, "select detail from events where kind='operator' "
                                                       "and run_id=:r", r=eng.run_id)]
        # every attempt audited (the refused ones, while a ticket was open, with the reason); two accepted
        assert [c["command"] for c in changes if c["command"].startswith("set-") and c["ok"]] == ["set-size",
                                                                                                    "set-mode"]
        assert all(c["error"] for c in changes if not c["ok"])
        assert all("uid" in c["who"] for c in changes)

        # a restart: the journal brings the shadow mode and the cap back, whatever the strategy file says
        eng2 = engine()
        eng2.start()
        try:
            restarted_at = time.time_ns()
            assert wait_until(lambda: status()["mode"] == "shadow", timeout=30)
            assert Decimal(status()["live_max_qty"]) == 25
            assert wait_until(lambda: _rows(db, "select count(*) from events where kind='shadow_ticket' "
                                                "and run_id=:r", r=eng2.run_id)[0][0] >= 1, timeout=30)
            assert _shfe_orders_since(sim.db_url, restarted_at) == [], "restored in shadow, yet it sent"
            _until_accepted("set-mode", "--socket", str(sock), "--pair", PAIR, "live")
            live_at = time.time_ns()
            assert wait_until(lambda: len(_shfe_orders_since(sim.db_url, live_at)) >= 2, timeout=30)
        finally:
            eng2.stop()
        assert set(_shfe_orders_since(sim.db_url, live_at)) == {Decimal(5)}   # still capped after the restart
    finally:
        sim.proc.stop()
