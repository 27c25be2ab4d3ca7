"""The engine against the simulator over real sessions: it trades the basis, every FIX message of
the run is in the audit database, every order reached the venue exactly once, and no secret is
written anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from xmc_fix.audit.completeness import audit_completeness
from xmc_fix.reports.figures import figures, load_run
from xmc_fix.venues.credentials import Credentials, Secret

pytestmark = pytest.mark.integration


def _rows(db_url: str, sql: str, **params):
    eng = create_engine(db_url)
    with eng.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    eng.dispose()
    return rows


def test_engine_trades_over_real_sessions_and_audits_every_message(sim, engine_factory, tmp_path):
    eng = engine_factory()
    summary = eng.run(12)
    sim.proc.stop()
    db = f"sqlite:///{tmp_path / 'engine.db'}"

    figs = figures(load_run(db, eng.run_id))
    assert figs["tickets"] >= 1 and figs["tickets_completed"] >= 1, figs
    assert summary["tickets"] == figs["tickets"]

    # every sequence number QuickFIX used, in and out, is in the audit database
    completeness = audit_completeness(db, eng.run_id, eng.sessions)
    assert completeness["complete"], completeness

    # what the engine sent is exactly what the simulator received, once each
    sent = sorted(r[0] for r in _rows(db, "select cl_ord_id from orders where run_id=:r and sent_ns is not null",
                                      r=eng.run_id))
    received = [r[0] for r in _rows(sim.db_url, "select cl_ord_id from fix_messages where direction='in' "
                                                "and msg_type='D'")]
    assert sorted(received) == sent and len(set(received)) == len(received)

    # each order's fills in the engine match the simulator's trade reports for it
    eng_fills = _rows(db, "select cl_ord_id, count(*) from fills where run_id=:r group by cl_ord_id", r=eng.run_id)
    # (distinct ExecIDs: the venue also copies each trade report to its drop-copy session)
    sim_fills = dict(_rows(sim.db_url, "select cl_ord_id, count(distinct exec_id) from fix_messages where "
                                       "direction='out' and msg_type='8' and exec_type='F' group by cl_ord_id"))
    assert eng_fills and all(sim_fills.get(c) == n for c, n in eng_fills)

    # SHFE orders carried open/close instructions the venue dictionary requires
    pe = _rows(db, "select distinct position_effect from orders where run_id=:r and venue='SHFE'", r=eng.run_id)
    assert {p for (p,) in pe} <= {"OPEN", "CLOSE_TODAY"} and pe


def test_no_password_is_written_to_any_file(sim, engine_factory, tmp_path):
    eng = engine_factory()
    eng.run(4)
    sim.proc.stop()
    secrets = [c.password.reveal().encode() for c in sim.credentials.values()]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".body" for p in files) and any(p.name.endswith(".messages.log") for p in files)
    for p in files:
        data = p.read_bytes()
        for s in secrets:
            assert s not in data, f"a password is in {p}"
    logons = _rows(f"sqlite:///{tmp_path / 'engine.db'}",
                   "select raw from fix_messages where msg_type='A' and direction='out'")
    assert logons and all(b"\x01554=***\x01" in bytes(r[0]) for r in logons)


def test_wrong_password_is_refused_and_the_other_venues_still_log_on(sim, engine_factory, tmp_path):
    creds = dict(sim.credentials)
    creds["LME"] = Credentials(creds["LME"].username, Secret("wrong-password"))
    eng = engine_factory(credentials=creds)
    eng.start()
    assert eng.wait_logged_on(10, {"SHFE", "COMEX", "CNHFX"})
    assert not eng.wait_logged_on(3, {"LME"})
    eng.stop()
    downs = _rows(f"sqlite:///{tmp_path / 'engine.db'}",
                  "select detail from events where kind='session_down' and venue='LME' and run_id=:r", r=eng.run_id)
    assert any("invalid username or password" in d for (d,) in downs), downs
