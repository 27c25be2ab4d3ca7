"""Integration fixtures: the real simulator in a child process on free loopback ports, and engines
or bare FIX clients connected to it over real QuickFIX sessions."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from xmc_fix import app as A
from xmc_fix import demo as D
from xmc_fix.venues.settings import load_session_file, load_sessions
from xmc_fix.venues.credentials import Credentials

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = ROOT / "sessions"
# the engine's sessions in sessions/venues.cfg (order sessions and drop copies): what verify checks
VENUE_SESSIONS = sum(line.strip() == "[SESSION]" for line in (SESSIONS / "venues.cfg").read_text().splitlines())


def wait_until(pred, timeout: float = 15.0) -> bool:
    """Poll ``pred`` until it holds; False after ``timeout`` (a bound on the test, not a claim)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


@dataclass
class SimWorld:
    proc: D.SimProcess
    ports: dict[str, int]
    credentials: dict[str, Credentials]
    db_url: str
    store: Path
    work: Path

    @property
    def sim_sessions(self):
        return load_sessions(str(SESSIONS / "sim.cfg"), "acceptor", self.ports, str(self.store))


def start_sim(work: Path, *, seed: int = 7, market: Path = SESSIONS / "sim_market.toml",
              extra_args: list[str] | None = None, config: Path = SESSIONS / "sim.cfg") -> SimWorld:
    sim_sessions = load_session_file(str(config), "acceptor")
    venues = list(dict.fromkeys(s.venue for s in sim_sessions.sessions))
    env_add, creds = D.demo_credentials(venues)
    db_url = f"sqlite:///{work / 'sim.db'}"
    for attempt in range(3):
        ports = dict(zip(venues, D.free_ports(len(venues))))
        try:
            proc = D.spawn_sim(str(config), str(market), ports=ports, store=str(work / "store-sim"),
                               db_url=db_url, seed=seed, env={**os.environ, **env_add},
                               log_path=str(work / "sim.log"), extra_args=extra_args)
            break
        except RuntimeError:
            # a port free when chosen was taken before the simulator bound it (another suite running
            # beside this one): choose again; any other failure is the test's
            log = (work / "sim.log").read_text(errors="replace") if (work / "sim.log").exists() else ""
            if attempt == 2 or "Address already in use" not in log:
                raise
    return SimWorld(proc, ports, creds, db_url, work / "store-sim", work)


@pytest.fixture
def sim(tmp_path):
    world = start_sim(tmp_path)
    yield world
    world.proc.stop()


@pytest.fixture
def engine_factory(sim, tmp_path):
    """Build EngineApps against the running simulator; stopped at teardown if still running."""
    made: list[A.EngineApp] = []

    def make(strategy: str | Path = SESSIONS / "strategy.toml", *, credentials=None, db_url=None, store=None):
        eng = A.engine_from_files(str(SESSIONS / "venues.cfg"), str(strategy),
                                  db_url or f"sqlite:///{tmp_path / 'engine.db'}", ports=sim.ports,
                                  store=str(store or tmp_path / "store-engine"), log_dir=str(tmp_path / "log"),
                                  extra_credentials=credentials if credentials is not None else sim.credentials,
                                  journal_path=str(tmp_path / "journal.jsonl"))
        made.append(eng)
        return eng

    yield make
    for eng in made:
        if eng._initiator is not None:
            eng.stop(drain_s=1)
