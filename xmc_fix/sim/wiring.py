"""Wiring of ``xmc sim``: the simulator's object graph from its session, market and scenario files.

The engine's wiring lives in :mod:`xmc_fix.app`; the two share nothing but the session-file
loader, so a report or the engine never imports the simulator. Starting and stopping the server,
and the child process the demo runs it in, are elsewhere (:mod:`xmc_fix.cli`, :mod:`xmc_fix.demo`).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

from xmc_fix.audit.writer import AuditWriter
from xmc_fix.errors import ConfigError
from xmc_fix.paths import SESSIONS
from xmc_fix.sim.app import SimServer
from xmc_fix.sim.behaviour import load_scenario
from xmc_fix.sim.config import load_market
from xmc_fix.venues.credentials import load_credentials
from xmc_fix.venues.settings import load_sessions


def sim_from_files(config_path: str, market_path: str, *, seed: int | None = None, ports: dict[str, int] | None = None,
                   store: str | None = None, db_url: str | None = None, credentials_file: str | None = None,
                   log_dir: str | None = None, scenario: str = "calm", positions_path: str | None = None) -> SimServer:
    sessions = load_sessions(config_path, "acceptor", ports, store)
    market = load_market(market_path, seed=seed)
    behaviours = load_scenario(scenario, market, search_dir=SESSIONS / "scenarios")
    for s in sessions.sessions:
        if s.venue not in market.venues:
            raise ConfigError(f"venue {s.venue!r} has a session but no [venues.{s.venue}] in {market_path}",
                              file=config_path, key="Venue", remedy="add the venue to the market file")
    creds = load_credentials({s.venue for s in sessions.sessions}, file=credentials_file)
    audit = None
    if db_url:
        run_id = f"sim-{uuid.uuid4().hex[:10]}"
        audit = AuditWriter(db_url, run_id, venues_by_session={s.session_key: s.venue for s in sessions.sessions},
                            log_dir=log_dir).start()
        audit.record("runs", {"run_id": run_id, "role": "sim", "started_ns": time.time_ns(),
                              "host": socket.gethostname(), "pid": os.getpid(), "command": "xmc sim",
                              "config": json.dumps({"sessions": config_path, "market": market_path,
                                                    "seed": market.seed})})
    return SimServer(sessions, market, creds, audit=audit, behaviours=behaviours, positions_path=positions_path)
