"""Session-level faults over real sessions: the simulator's fault proxy drops the connection, skips
sequence numbers, garbles a message, spoils a checksum, a CompID or a SendingTime, scripted or at
seeded rates. The engine must survive each one, resynchronise with the venue, and end every ticket
matched or unwound; every claim is checked on the engine's audit database (and the simulator's,
which holds every message the venue sent and received)."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.conftest import SESSIONS, start_sim
from tests.integration.conftest import wait_until as _wait
from tests.integration.test_repair import ONE_TICKET, _assert_all_matched, _messages, _rows, _scenario, _strategy
from xmc_fix import app as A
from xmc_fix.sim.faultproxy import checksum, field, is_frame

pytestmark = pytest.mark.integration

ENGINE_LME = "FIX.4.4:XMC->LME"
SIM_LME = "FIX.4.4:LME->XMC"
VENUES = {"SHFE", "LME", "COMEX", "CNHFX"}


# -- helpers -----------------------------------------------------------------------------------
def _valid(raw: bytes) -> bool:
    """What QuickFIX would accept as a frame: BodyLength and CheckSum right."""
    if not is_frame(raw):
        return False
    head_end = raw.index(b"\x01", raw.index(b"\x019=") + 1) + 1
    body_len = int(field(raw, b"9"))
    return len(raw) - 7 - head_end == body_len and raw[-4:-1] == checksum(raw[:-7])


def _faults_injected(sim, venue: str | None = None) -> list[dict]:
    if not (sim.work / "sim.db").exists():
        return []
    rows = _rows(sim.db_url, "select venue, detail from events where kind='fault_injected' order by id")
    return [{"venue": v, **json.loads(d)} for v, d in rows if venue is None or v == venue]


class EngineRun:
    """The engine in this process on the ONE_TICKET strategy (or another), its control socket in a
    short temporary folder; stopped by ``close`` whatever happened."""

    def __init__(self, tmp_path: Path, sim, strategy: str = ONE_TICKET) -> None:
        self.sockdir = Path(tempfile.mkdtemp(prefix="xmcf"))
        self.db = f"sqlite:///{tmp_path / 'engine.db'}"
        # The faults below are aimed at a venue's N-th execution report on its port: the answers to
        # the logon's mass-status request and the drop copies' copies are execution reports too, so
        # these runs ask for no mass status and have no drop-copy sessions.
        text = (SESSIONS / "venues.cfg").read_text().split("# Drop copies")[0]
        sessions = tmp_path / "venues.cfg"
        sessions.write_text(text.replace("OrderMassStatus=Y", "OrderMassStatus=N").replace("=../", f"={SESSIONS.parent}/"))
        self.eng = A.engine_from_files(str(sessions), str(_strategy(tmp_path, strategy)), self.db,
                                       ports=sim.ports, store=str(tmp_path / "store-engine"),
                                       extra_credentials=sim.credentials, journal_path=str(tmp_path / "journal.jsonl"),
                                       control_path=str(self.sockdir / "c.sock"))
        self.eng.start()

    def call(self, fn):
        return self.eng.serial.call(fn)

    def settled(self) -> bool:
        e = self.eng.engine
        return self.call(lambda: len(e.tickets) > 0 and not e.working and VENUES <= e.venues_up)

    def md_updates(self) -> int:
        return self.call(lambda: self.eng.engine.stats.md_updates)

    def md_flows(self, updates: int = 20, timeout: float = 30) -> bool:
        """Does market data keep arriving: ``updates`` more book updates within ``timeout``?"""
        md = self.md_updates()
        return _wait(lambda: self.md_updates() >= md + updates, timeout)

    def close(self) -> None:
        try:
            if self.eng._initiator is not None:
                self.eng.stop(drain_s=2)
        finally:
            shutil.rmtree(self.sockdir, ignore_errors=True)


def _incoming(db: str, run_id: str, session: str):
    return [(r["id"], r["seq_num"], r["msg_type"], r["poss_dup"], r["raw"])
            for r in _messages(db, run_id, session=session, direction="in")]


def _outgoing(db: str, run_id: str, session: str, msg_type: str):
    return _rows(db, "select id, seq_num, raw from fix_messages where run_id=:r and session=:s and direction='out' "
                     "and msg_type=:t order by id", r=run_id, s=session, t=msg_type)


def _assert_resynchronised(db: str, run_id: str, sim, engine_session: str, sim_session: str) -> list:
    """The engine's incoming stream for one session, from its audit database:

    - every sequence number the venue used (the simulator's audit) reached the engine in a valid
      frame, or was covered by a SequenceReset-GapFill;
    - after the last resent message (PossDup) or gap fill, the numbers are contiguous and pick up
      right after the highest one seen before;
    - the engine's last incoming number is the venue's last outgoing one.
    """
    rows = _incoming(db, run_id, engine_session)
    valid = [r for r in rows if _valid(bytes(r[4]))]
    (sim_last,) = _rows(sim.db_url, "select max(seq_num) from fix_messages where session=:s and direction='out'",
                        s=sim_session)[0]
    covered: set[int] = set()
    for _, seq, mt, _, raw in valid:
        covered.add(seq)
        if mt == "4" and field(bytes(raw), b"123") == b"Y":
            covered |= set(range(seq, int(field(bytes(raw), b"36"))))
    missing = sorted(set(range(1, sim_last + 1)) - covered)
    assert not missing, f"{engine_session}: sequence numbers never received nor gap-filled: {missing[:20]}"
    resync = max((i for i, r in enumerate(valid) if r[3] or r[2] == "4"), default=-1)
    before = max((r[1] for r in valid[:resync + 1]), default=0)
    tail = [r[1] for r in valid[resync + 1:]]
    assert tail, f"{engine_session}: nothing received after the resynchronisation"
    assert tail == list(range(before + 1, before + 1 + len(tail))), \
        f"{engine_session}: out of order after the resynchronisation (last resent {before}): {tail[:30]}"
    assert tail[-1] == sim_last, f"{engine_session}: engine ended at {tail[-1]}, venue sent up to {sim_last}"
    return valid


def _assert_orders_reconciled(db: str, run_id: str, sim) -> None:
    """Each order ends in the engine's audit with the CumQty of the venue's last report for it."""
    orders = _rows(db, "select cl_ord_id, venue, cum_qty, status from orders where run_id=:r", r=run_id)
    assert orders
    for cl, venue, cum, status in orders:
        reports = _rows(sim.db_url, "select raw from fix_messages where direction='out' and msg_type='8' "
                                    "and cl_ord_id=:c order by id", c=cl)
        assert reports, f"{venue} never reported on {cl}"
        venue_cum = Decimal(field(bytes(reports[-1][0]), b"14").decode())
        assert Decimal(cum) == venue_cum, f"{cl} at {venue}: engine has CumQty {cum} ({status}), venue {venue_cum}"


def _run_with_fault(tmp_path: Path, fault_toml: str):
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, fault_toml)])
    run = None
    try:
        run = EngineRun(tmp_path, sim)
        assert _wait(lambda: _faults_injected(sim), 30), "the simulator never injected the fault"
        assert _wait(run.settled, 30), "the ticket did not settle with every session up"
        assert run.md_flows(), "market data stopped after the fault"
        up = run.call(lambda: set(run.eng.engine.venues_up))
    finally:
        try:
            if run is not None:
                run.close()
        finally:
            sim.proc.stop()
    return run.eng, run.db, sim, up


# -- one scripted fault on the LME fill report ---------------------------------------------------
RESENT = ("skip", "garble", "bad_checksum", "drop")          # the client asks for the gap
REJECTED = {"wrong_compid": "9", "stale_sending_time": "10"}   # session Reject, Logout, new logon


@pytest.mark.parametrize("fault", [*RESENT, *REJECTED])
def test_the_engine_survives_a_spoiled_fill_report_and_resynchronises(tmp_path, fault):
    """LME's second execution report (the fill of the ticket's LME leg) is hit by the fault."""
    eng, db, sim, up = _run_with_fault(tmp_path, f'[[fault]]\nvenue = "LME"\nfault = "{fault}"\n'
                                                 f'msg_type = "8"\nafter = 1\n')
    assert up == VENUES, f"sessions not all up again: {up}"
    (hit,) = _faults_injected(sim, "LME")
    assert hit["fault"] == fault and hit["msg_type"] == "8"
    seq = hit["seq_num"]

    _assert_all_matched(eng, db, sim)
    _assert_orders_reconciled(db, eng.run_id, sim)
    valid = _assert_resynchronised(db, eng.run_id, sim, ENGINE_LME, SIM_LME)
    for venue in VENUES - {"LME"}:          # the other sessions never noticed
        _assert_resynchronised(db, eng.run_id, sim, f"FIX.4.4:XMC->{venue}", f"FIX.4.4:{venue}->XMC")

    rows = _incoming(db, eng.run_id, ENGINE_LME)
    at_fault = [bytes(r[4]) for r in rows if r[1] == seq and not r[3]]
    logons = _outgoing(db, eng.run_id, ENGINE_LME, "A")
    if fault in RESENT:
        if fault == "skip" or fault == "drop":
            assert not at_fault, "the withheld message reached the engine"
        else:
            assert at_fault and not any(_valid(r) for r in at_fault), "the spoiled frame was not what arrived"
        asked = [field(bytes(raw), b"7") for _, _, raw in _outgoing(db, eng.run_id, ENGINE_LME, "2")]
        assert any(int(b) <= seq for b in asked), f"no ResendRequest covering {seq}: {asked}"
        resent = [r for r in valid if r[1] == seq and r[3]]
        assert resent and resent[0][2] == "8", "the fill report was not resent with PossDup"
        assert len(logons) == (2 if fault == "drop" else 1)
    else:
        (spoiled,) = at_fault
        assert _valid(spoiled)
        if fault == "wrong_compid":
            assert field(spoiled, b"49") == b"WRONGLME"
        else:
            sent = datetime.strptime(field(spoiled, b"52")[:17].decode(), "%Y%m%d-%H:%M:%S")
            assert datetime.utcnow() - sent > timedelta(minutes=50)
        rejects = [bytes(raw) for _, _, raw in _outgoing(db, eng.run_id, ENGINE_LME, "3")]
        assert any(field(r, b"45") == str(seq).encode() and field(r, b"373") == REJECTED[fault].encode()
                   for r in rejects), rejects
        assert _outgoing(db, eng.run_id, ENGINE_LME, "5"), "the engine did not log out after the bad message"
        assert len(logons) >= 2, "the engine did not log on again"
        # the fill itself was lost for good: the engine learnt it by asking
        asked = _rows(db, "select count(*) from events where kind='status_request' and venue='LME' and run_id=:r",
                      r=eng.run_id)[0][0]
        assert asked >= 1


# -- faults at seeded rates on two venues, and trading through them ------------------------------
RATES = """
[[fault]]
venue = "SHFE"
fault = "skip"
rate = 0.05
after = 10
limit = 3

[[fault]]
venue = "LME"
fault = "bad_checksum"
rate = 0.04
after = 10
limit = 2

[[fault]]
venue = "LME"
fault = "garble"
rate = 0.03
after = 10
limit = 2
"""


def test_faults_at_seeded_rates_on_two_venues_leave_every_ticket_matched_and_in_sequence(tmp_path):
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, RATES)])
    run = None
    try:
        run = EngineRun(tmp_path, sim)
        assert _wait(run.settled, 30), "the opening ticket did not settle"
        # every fault used up (limit), so the last resynchronisation happens before the engine stops
        assert _wait(lambda: len(_faults_injected(sim)) == 3 + 2 + 2, 60), _faults_injected(sim)
        # trade again through the faulty sessions: the kill switch flattens the position
        run.call(lambda: run.eng.engine.cmd_flatten(None, "test"))
        e = run.eng.engine
        assert _wait(lambda: run.call(lambda: len(e.tickets) >= 2 and not e.working), 30), \
            "the flatten ticket did not settle"
        assert _wait(run.settled, 30)
        assert run.md_flows(), "market data stopped"
        up = run.call(lambda: set(run.eng.engine.venues_up))
    finally:
        try:
            if run is not None:
                run.close()
        finally:
            sim.proc.stop()
    eng, db = run.eng, run.db
    assert up == VENUES
    tickets = _assert_all_matched(eng, db, sim)
    assert len(tickets) >= 2
    _assert_orders_reconciled(db, eng.run_id, sim)
    for venue in VENUES:
        _assert_resynchronised(db, eng.run_id, sim, f"FIX.4.4:XMC->{venue}", f"FIX.4.4:{venue}->XMC")
    kinds = sorted((f["venue"], f["fault"]) for f in _faults_injected(sim))
    assert kinds == [("LME", "bad_checksum")] * 2 + [("LME", "garble")] * 2 + [("SHFE", "skip")] * 3
    (pr,) = eng.engine.pairs.values()
    assert pr.inner_lots == 0 and pr.outer_lots == 0, "the flatten did not bring the position back to zero"
