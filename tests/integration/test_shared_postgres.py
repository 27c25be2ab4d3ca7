"""Two engine processes (`xmc run`, ClOrdID namespaces X and Y, SenderCompIDs XMC and XMC2) trade
against one simulator at the same time and write one PostgreSQL audit database: no ClOrdID collides,
each run has its own hash chain, and `xmc audit verify` passes for both runs and for the database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.conftest import VENUE_SESSIONS
from xmc_fix import demo as D
from xmc_fix.venues.settings import load_session_file

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SESSIONS = ROOT / "sessions"
FIXSPECS = str(ROOT / "fixspecs")


def sim_config_for_two_clients(tmp_path: Path) -> Path:
    """sessions/sim.cfg with every venue served to a second client, XMC2, on the same port."""
    text_ = (SESSIONS / "sim.cfg").read_text().replace("../fixspecs", FIXSPECS)
    blocks = re.split(r"(?m)^\[SESSION\]\s*$", text_)
    extra = []
    for body in blocks[1:]:
        lines = [l for l in body.strip().splitlines() if l.strip() and not l.lstrip().startswith("#")]
        extra.append("[SESSION]\n" + "\n".join(lines) + "\nTargetCompID=XMC2\n")
    path = tmp_path / "sim2.cfg"
    path.write_text(text_ + "\n" + "\n".join(extra))
    return path


def engine_files(tmp_path: Path, namespace: str, sender: str, account: str) -> tuple[Path, Path]:
    venues = (SESSIONS / "venues.cfg").read_text().replace("../fixspecs", FIXSPECS)
    venues = re.sub(r"(?m)^SenderCompID=XMC\s*$", f"SenderCompID={sender}", venues)
    strategy = (SESSIONS / "strategy.toml").read_text()
    strategy = re.sub(r'(?m)^namespace = "X"', f'namespace = "{namespace}"', strategy)
    strategy = re.sub(r'(?m)^account = "XMC01"', f'account = "{account}"', strategy)
    assert f'namespace = "{namespace}"' in strategy and f"SenderCompID={sender}" in venues
    v, s = tmp_path / f"venues-{namespace}.cfg", tmp_path / f"strategy-{namespace}.toml"
    v.write_text(venues)
    s.write_text(strategy)
    return v, s


def test_two_engines_share_one_postgresql_database_without_colliding(pg_url, tmp_path):
    sim_cfg = sim_config_for_two_clients(tmp_path)
    venues = sorted({s.venue for s in load_session_file(str(sim_cfg), "acceptor").sessions})
    ports = dict(zip(venues, D.free_ports(len(venues))))
    env_add, _ = D.demo_credentials(venues)
    env = {**os.environ, **env_add}
    sim = D.spawn_sim(str(sim_cfg), str(SESSIONS / "sim_market.toml"), ports=ports, store=str(tmp_path / "store-sim"),
                      db_url=None, seed=7, env=env, log_path=str(tmp_path / "sim.log"))
    engines = []
    try:
        for ns, sender, account in (("X", "XMC", "XMC01"), ("Y", "XMC2", "XMC02")):
            v, s = engine_files(tmp_path, ns, sender, account)
            args = [sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / f"{ns}.log"), "run",
                    "--sessions", str(v), "--strategy", str(s), "--db", pg_url, "--duration", "10", "--quiet",
                    "--store", str(tmp_path / f"store-{ns}"), "--journal", str(tmp_path / f"{ns}.jsonl")]
            args += [a for venue, port in ports.items() for a in ("--port", f"{venue}={port}")]
            engines.append((ns, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                 env=env, cwd=str(ROOT))))
        outputs = {}
        for ns, proc in engines:
            out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, err[-3000:]
            outputs[ns] = out + err
    finally:
        for _, proc in engines:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        sim.stop()

    eng = create_engine(pg_url)
    with eng.connect() as conn:
        runs = dict(conn.execute(text("select namespace, run_id from runs where role = 'engine'")).all())
        sent = conn.execute(text("select cl_ord_id, run_id from fix_messages where direction = 'out' "
                                 "and msg_type = 'D' and poss_dup = false")).all()
        orders = conn.execute(text("select cl_ord_id, run_id from orders")).all()
        chains = dict(conn.execute(text("select run_id, count(*) from audit_chain group by run_id")).all())
    eng.dispose()

    assert set(runs) == {"X", "Y"}
    by_run = {rid: [c for c, r in sent if r == rid] for rid in runs.values()}
    assert all(by_run.values()), "both engines sent orders"
    ids = [c for c, _ in sent]
    assert len(ids) == len(set(ids)), "a ClOrdID was sent twice"
    for ns, rid in runs.items():
        assert all(c.startswith(ns) for c in by_run[rid])
    assert {c for c, _ in orders} >= set(ids)
    assert set(chains) == set(runs.values())

    for ns, rid in runs.items():
        assert f"audit chain: run {rid} sealed at {chains[rid]} entries" in outputs[ns]
        res = subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / "v.log"), "audit", "verify",
                              "--db", pg_url, "--run", rid, "--store", str(tmp_path / f"store-{ns}")],
                             capture_output=True, text=True, timeout=120, cwd=str(ROOT))
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"{VENUE_SESSIONS} session(s)" in res.stdout
    res = subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / "v.log"), "audit", "verify",
                          "--db", pg_url], capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert res.returncode == 0 and "OK: 2 run(s)" in res.stdout, res.stdout + res.stderr
