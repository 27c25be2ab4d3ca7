"""``xmc demo``: the simulator in a child process and the engine in this one, on free loopback
ports, with fresh credentials; and the launcher the integration tests use for the simulator.

Launchers only: the engine's object graph comes from :mod:`xmc_fix.app`, the simulator's from
:mod:`xmc_fix.sim.wiring` (in the child), the completeness check from
:mod:`xmc_fix.audit.completeness`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable

from xmc_fix.app import engine_from_files, new_run_id
from xmc_fix.audit.completeness import audit_completeness
from xmc_fix.config import load_strategy
from xmc_fix.paths import ROOT, var_dir
from xmc_fix.procutil import stop_child
from xmc_fix.venues.credentials import Credentials, Secret, env_prefix
from xmc_fix.venues.settings import load_session_file


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@dataclass
class SimProcess:
    """``xmc sim`` in a child process, for the demo and the integration tests."""

    proc: subprocess.Popen
    ports: dict[str, int]
    db_url: str | None

    def stop(self, timeout: float = 15.0) -> int:
        return stop_child(self.proc, timeout)


def spawn_sim(config_path: str, market_path: str, *, ports: dict[str, int], store: str, db_url: str | None,
              seed: int | None, env: dict[str, str], log_path: str | None = None, extra_args: list[str] | None = None,
              ready_timeout: float = 30.0) -> SimProcess:
    """Start the simulator as a child process and wait until it listens."""
    args = [sys.executable, "-m", "xmc_fix", "sim", "--config", config_path, "--market", market_path,
            "--store", store]
    for venue, port in ports.items():
        args += ["--port", f"{venue}={port}"]
    if db_url:
        args += ["--db", db_url]
    if seed is not None:
        args += ["--seed", str(seed)]
    args += extra_args or []
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    env = {**env, "XMC_PARENT_PID": str(os.getpid())}   # the simulator stops when we die
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=out, env=env, cwd=str(ROOT))
    deadline = time.monotonic() + ready_timeout
    line = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(b"READY"):
            # keep draining stdout so the child never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return SimProcess(proc, ports, db_url)
    proc.kill()
    raise RuntimeError(f"simulator did not start (exit {proc.poll()}); see {log_path or 'its stderr'}")


def demo_credentials(venues: list[str]) -> tuple[dict[str, str], dict[str, Credentials]]:
    """Fresh random credentials per venue for one demo run: environment for the simulator child,
    objects for the in-process engine. Nothing is written to disk."""
    env, creds = {}, {}
    for v in venues:
        user, pw = f"demo-{v.lower()}", uuid.uuid4().hex
        env[env_prefix(v) + "_USERNAME"] = user
        env[env_prefix(v) + "_PASSWORD"] = pw
        creds[v] = Credentials(user, Secret(pw))
    return env, creds


#: Demo run folders kept in the work folder (the newest; a 20 s demo leaves a few megabytes).
KEEP_RUNS = 20
_RUN_FOLDER = re.compile(r"[A-Za-z0-9]{1,4}-[0-9a-f]{10}")   # a run id (app.new_run_id)


def _prune(base: Path, keep: int) -> None:
    """Remove all but the ``keep`` newest run folders under ``base`` (and the single shared folders
    older versions used)."""
    for old in ("store-engine", "store-sim", "log"):
        shutil.rmtree(base / old, ignore_errors=True)
    runs = sorted((p for p in base.iterdir() if p.is_dir() and _RUN_FOLDER.fullmatch(p.name)),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for p in runs[keep:]:
        shutil.rmtree(p, ignore_errors=True)


def run_demo(*, duration: float, db_url: str, seed: int | None, sessions_path: str, sim_config_path: str,
             strategy_path: str, market_path: str, progress: Callable[[str], None] | None = None,
             work_dir: str | None = None, scenario: str = "calm",
             control_path: str | None = None, metrics_port: int | None = None) -> tuple[dict, str, dict]:
    """Simulator child process + engine in this process on free loopback ports, for ``duration``
    seconds; returns (engine summary, run id, audit completeness).

    Each run works in a folder of its own, ``<work_dir>/<run id>/`` (default work folder
    ``<data folder>/demo``): QuickFIX stores, journal, simulator database and logs. A later demo
    never touches an earlier one's store, so the earlier run's audit coverage can still be checked
    against it; :data:`KEEP_RUNS` folders are kept, older ones removed (their runs' reports then
    check against the numbers each run recorded)."""
    run_id = new_run_id(load_strategy(strategy_path).engine.namespace)
    base = Path(work_dir or var_dir() / "demo")
    work = base / run_id
    work.mkdir(parents=True)
    _prune(base, keep=KEEP_RUNS)
    sim_sessions = load_session_file(sim_config_path, "acceptor")
    venues = [s.venue for s in sim_sessions.sessions]
    ports = dict(zip(venues, free_ports(len(venues))))
    env_add, creds = demo_credentials(venues)
    env = {**os.environ, **env_add}
    # the engine must not pick up a user's real credentials for these demo venues
    sim_db = f"sqlite:///{work / 'sim.db'}"
    engine = engine_from_files(sessions_path, strategy_path, db_url, ports=ports, store=str(work / "store-engine"),
                               log_dir=str(work / "log"), command="xmc demo", extra_credentials=creds,
                               journal_path=str(work / "journal.jsonl"), run_id=run_id, control_path=control_path,
                               metrics_port=metrics_port)
    if progress:
        progress(f"simulator: {', '.join(f'{v}@{p}' for v, p in ports.items())} (seed {seed}); "
                 f"control socket {engine.control_path} (xmc status / watch / web)"
                 + (f"; metrics http://127.0.0.1:{engine.metrics_port}/metrics" if engine.metrics_port else ""))
    sim = spawn_sim(sim_config_path, market_path, ports=ports, store=str(work / "store-sim"), db_url=sim_db,
                    seed=seed, env=env, log_path=str(work / "sim.log"), extra_args=["--scenario", scenario])
    try:
        summary = engine.run(duration, progress, venue_truth=lambda: sim_positions(sim, work / "store-sim"))
    finally:
        sim.stop()
    completeness = audit_completeness(db_url, engine.run_id, engine.sessions)
    return summary, engine.run_id, completeness


def sim_positions(sim: SimProcess, store: Path, timeout: float = 10.0) -> dict:
    """The simulator's own positions now: it writes them on SIGUSR1 (``sim-positions.json`` in its
    store); ``{(venue, account, symbol): net lots}``."""
    path = Path(store) / "sim-positions.json"
    before = json.loads(path.read_text())["seq"] if path.exists() else 0
    os.kill(sim.proc.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            doc = json.loads(path.read_text())
            if doc["seq"] > before:
                return {(p["venue"], p["account"] or "", p["symbol"]): Decimal(p["net"]) for p in doc["positions"]}
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the simulator wrote no positions to {path} within {timeout} s")
