"""The engine killed with SIGKILL at more than twenty moments of a ticket's life — before the send,
between the legs, between a fill and its repair, mid-repair, at a ticket's end, mid-flatten — and
restarted each time against the same simulator, which goes on trading and misbehaving. At the end:
the engine's positions equal the simulator's for every instrument of the account, no ClOrdID ever
reached the venue twice, every ticket ended, every order the venue received is in the audit (the
crashed runs completed from QuickFIX's store and the journal at the next start) and ``xmc audit
verify`` passes, naming each crash gap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, SESSIONS, start_sim, wait_until
from tests.integration.test_repair import _rows, _scenario
from xmc_fix.audit.verify import verify
from xmc_fix.control.client import request
from xmc_fix.venues.credentials import env_prefix

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# legging on purpose, and the venues' own corrections: every crash point is reached often
SCENARIO = """
[default]
reject_rate = 0.08
partial_fill_rate = 0.12
partial_fill_fraction = 0.5
ack_latency_ms = [0, 10]
fill_latency_ms = [0, 20]
duplicate_rate = 0.05
late_fill_rate = 0.03
late_fill_ms = 150
bust_rate = 0.02
"""

CRASHES = [("before_send", 1), ("between_legs", 1), ("after_fill", 1), ("repair_sent", 1), ("ticket_end", 1),
           ("before_send", 3), ("between_legs", 2), ("after_fill", 3), ("repair_sent", 2), ("ticket_end", 3),
           ("before_send", 2), ("between_legs", 4), ("after_fill", 5), ("repair_sent", 1), ("ticket_end", 2),
           ("after_fill", 2), ("between_legs", 3), ("before_send", 4), ("repair_sent", 3), ("ticket_end", 4),
           ("after_fill", 4), ("between_legs", 5)]
FLATTEN_CRASHES = 2


def _env(sim) -> dict:
    env = dict(os.environ)
    env.pop("XMC_CRASH_AT", None)
    for venue, cred in sim.credentials.items():
        env[env_prefix(venue) + "_USERNAME"] = cred.username
        env[env_prefix(venue) + "_PASSWORD"] = cred.password.reveal()
    return env


# the default strategy, its repair-loop guards off: a halt that an operator would resume after each
# restart is not what this test is about (tests/unit/execution/test_risk_guards.py is)
STRATEGY = (SESSIONS / "strategy.toml").read_text().replace(
    "[risk]\n", "[risk]\nmax_rejects = 0\nmax_unwinds = 0\n", 1)


def _run(tmp_path: Path, sim, db: str, sock: Path, duration: float, crash: str | None, n: int) -> subprocess.Popen:
    env = _env(sim)
    if crash:
        env["XMC_CRASH_AT"] = crash
    args = [sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / "xmc.log"), "run",
            "--sessions", str(SESSIONS / "venues.cfg"), "--strategy", str(tmp_path / "strategy.toml"), "--db", db,
            "--store", str(tmp_path / "store-engine"), "--journal", str(tmp_path / "journal.jsonl"),
            "--control", str(sock), "--duration", str(duration), "--quiet"]
    for venue, port in sim.ports.items():
        args += ["--port", f"{venue}={port}"]
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=open(tmp_path / f"run{n}.log", "wb"),
                            stderr=subprocess.STDOUT)


def _status(sock: Path):
    try:
        return request(sock, "status", timeout=5) if sock.exists() else None
    except Exception:
        return None


def _sim_positions(sim, account: str) -> dict[tuple[str, str], Decimal]:
    path = Path(sim.store) / "sim-positions.json"
    before = json.loads(path.read_text())["seq"] if path.exists() else 0
    os.kill(sim.proc.proc.pid, signal.SIGUSR1)
    assert wait_until(lambda: path.exists() and json.loads(path.read_text())["seq"] > before, 10)
    return {(p["venue"], p["symbol"]): Decimal(p["net"]) for p in json.loads(path.read_text())["positions"]
            if p["account"] == account}


def test_twenty_kills_at_every_moment_of_a_tickets_life_leave_the_engine_holding_what_the_venues_hold(tmp_path):
    (tmp_path / "strategy.toml").write_text(STRATEGY)
    assert "max_rejects = 0" in STRATEGY
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, SCENARIO)])
    sockdir = Path(tempfile.mkdtemp(prefix="xmck"))
    sock = sockdir / "c.sock"
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    crashed: list[str] = []
    n = 0
    try:
        for point, count in CRASHES:
            n += 1
            proc = _run(tmp_path, sim, db, sock, 25, f"{point}:{count}", n)
            rc = proc.wait(90)
            if rc == -signal.SIGKILL:
                crashed.append(f"{point}:{count}")
        for _ in range(FLATTEN_CRASHES):   # mid-flatten: the kill switch, killed while its orders are out
            n += 1
            proc = _run(tmp_path, sim, db, sock, 40, "flatten_sent:1", n)
            if wait_until(lambda: (s := _status(sock)) is not None and len(s["venues_up"]) == 4
                          and any(Decimal(p["inner_lots"]) for p in s["pairs"].values()), 30):
                try:
                    request(sock, "flatten", timeout=10)
                except Exception:
                    pass        # the engine died answering: that is the point
            if proc.wait(60) == -signal.SIGKILL:
                crashed.append("flatten_sent:1")
            else:                  # nothing to flatten reached in time: resume for the next run
                pass
        # a last clean run: it resumes what the crashes left, and flattens so the venues end flat too
        n += 1
        proc = _run(tmp_path, sim, db, sock, 60, None, n)
        assert wait_until(lambda: (s := _status(sock)) is not None and len(s["venues_up"]) == 4, 30), \
            (tmp_path / f"run{n}.log").read_text()[-3000:]
        time.sleep(3)
        request(sock, "flatten", timeout=10)
        assert wait_until(lambda: (s := _status(sock)) is not None and not s["open_tickets"]
                          and all(Decimal(p["inner_lots"]) == 0 and Decimal(p["outer_lots"]) == 0
                                  for p in s["pairs"].values()), 60), _status(sock)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        venue = _sim_positions(sim, "XMC01")
    finally:
        sim.proc.stop()
    assert len(crashed) >= 20, f"only {len(crashed)} kills landed: {crashed}; the last run without one ended: " + \
        next((tmp_path / f"run{i}.log").read_text()[-1500:] for i in range(n - 1, 0, -1)
             if (tmp_path / f"run{i}.log").exists())
    assert {c.split(":")[0] for c in crashed} >= {"before_send", "between_legs", "after_fill", "repair_sent",
                                                  "ticket_end", "flatten_sent"}, crashed

    received = [r[0] for r in _rows(sim.db_url, "select cl_ord_id from fix_messages where direction='in' "
                                                "and msg_type='D'")]
    assert len(received) == len(set(received)), "a ClOrdID reached the venue twice"
    audited = {c for (c,) in _rows(db, "select cl_ord_id from fix_messages where direction='out' and msg_type='D'")}
    assert set(received) <= audited, f"orders the venue received missing from the audit: {set(received) - audited}"
    result = verify(db, "all")
    assert result.ok, result.render()
    crashed_runs = [r for r in result.runs if r.crash]
    assert len(crashed_runs) >= 20 and all(r.sealed for r in crashed_runs), result.render()

    (summary,) = _rows(db, "select summary from runs where role='engine' and summary is not null "
                           "order by started_ns desc limit 1")[0]
    final = json.loads(summary)
    assert final["open_tickets"] == 0, final
    engine = {tuple(k.split("|")): Decimal(v) for k, v in final["positions"].items()}
    from xmc_fix.config import load_strategy
    strategy = load_strategy(SESSIONS / "strategy.toml")
    for inst in strategy.instruments.values():
        ours = engine.get(("XMC01", inst.name), Decimal(0))
        theirs = venue.get((inst.venue, inst.symbol), Decimal(0))
        assert ours == theirs, f"{inst.name}: engine {ours}, venue {theirs} (kills: {crashed})"
