"""The simulator playing the venue's side of venue truth over real QuickFIX sessions: busts and
corrections, restatements, done for day and the venue's end of day, unsolicited cancels,
suspensions, expiries, orders from another terminal, reports only on the drop copy, a silent
gateway, a quiet connection, OrderMassStatusRequest, RequestForPositions, a FIX 4.2 session, and the
positions the simulator writes as the truth. The client is a bare QuickFIX initiator with the
engine's dictionaries (FIX44-SHFE, FIX44-XMC, FIX42), so every message the venue sends is checked
by the receiving session's dictionary: none may come back as a session Reject."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.conftest import start_sim
from tests.integration.fixpeer import COMEX, COMEX_42, COMEX_DC, LME, SHFE, SHFE_DC, FixPeer, fields
from tests.integration.rawfix import encode, logon, utc_stamp
from xmc_fix.sim.faultproxy import field

pytestmark = pytest.mark.integration


def _sim(tmp_path: Path, scenario: str):
    p = tmp_path / "scenario.toml"
    p.write_text(scenario)
    return start_sim(tmp_path, extra_args=["--scenario", str(p)])


@pytest.fixture
def world(tmp_path, request):
    """The simulator with the test's scenario (``@pytest.mark.parametrize``-free: the test calls
    ``world(scenario, peers)``), and a FixPeer on the sessions it names; both stopped at the end."""
    made = []

    def make(scenario: str, peers, **kw):
        sim = _sim(tmp_path, scenario)
        made.append(sim.proc)
        peer = FixPeer(sim.ports, sim.credentials, peers, **kw)
        made.append(peer)
        return sim, peer.start()

    yield make
    for thing in reversed(made):
        thing.stop()


def _positions(sim, reason: str = "request") -> dict:
    """The simulator's positions document, asked for with SIGUSR1 (or written at stop)."""
    path = sim.store / "sim-positions.json"
    seen = json.loads(path.read_text())["seq"] if path.exists() else 0
    if reason == "request":
        sim.proc.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists():
            doc = json.loads(path.read_text())
            if doc["seq"] > seen or reason == "stop":
                return doc
        time.sleep(0.05)
    raise AssertionError("the simulator wrote no positions")


def _holding(doc: dict, venue: str, account: str, symbol: str) -> dict:
    [row] = [p for p in doc["positions"] if (p["venue"], p["account"], p["symbol"]) == (venue, account, symbol)]
    return {k: row[k] for k in ("long_today", "long_yday", "short_today", "short_yday", "net")}


def _entries(msg: dict, raw_pairs: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    out = []
    for tag, value in raw_pairs:
        if tag == "703":
            out.append([value])
        elif tag in ("704", "705"):
            out[-1].append(value)
    return [tuple(e) for e in out]


def _raw(peer: FixPeer, p, msg_type: str) -> list[list[tuple[str, str]]]:
    with peer.app.cond:
        texts = [t for k, t in peer.app.received if k == p.key and fields(t)["35"] == msg_type]
    return [[tuple(f.split("=", 1)) for f in t.split("\x01") if f] for t in texts]


# -- what the venue does to orders on its own, SHFE with its drop copy ------------------------------------
SHFE_EVENTS = """
[[position]]
venue = "SHFE"
account = "XMC01"
symbol = "CU"
long = 4
""" + "".join(f'\n[[script]]\nvenue = "SHFE"\norder = {n}\n{body}\n' for n, body in [
    (1, 'action = "bust"\nms = 200'),
    (2, 'action = "correct"\nms = 200\nfraction = 0.6\nticks = 1'),
    (3, 'action = "restate"\nms = 100\nfraction = 0.5'),
    (4, 'action = "done_for_day"\nms = 100'),
    (5, 'action = "unsolicited_cancel"\nms = 100\ntext = "cancelled on price limit"'),
    (6, 'action = "suspend"\nms = 100\nresume_ms = 400'),
    (7, 'action = "expire"\nms = 100'),
    (8, 'action = "foreign"\nms = 100\nside = "sell"\nqty = 1\nposition_effect = "open"\nreport_to = "drop_copy"'),
    (9, 'action = "withhold"'),
])


def test_venue_events_on_an_order_session_and_its_drop_copy(world):
    sim, peer = world(SHFE_EVENTS, [SHFE, SHFE_DC])
    market = dict(price=None, tif="3", pe="O")
    resting = dict(price="50000", tif="0", pe="O")

    peer.new_order(SHFE, "O1", "CU", "1", 2, **market)
    o1 = peer.wait_reports(SHFE, "O1", 3)                      # New, Trade, Trade Cancel
    peer.new_order(SHFE, "O2", "CU", "1", 5, **market)
    o2 = peer.wait_reports(SHFE, "O2", 3)
    for n in (3, 4, 5, 6, 7, 8):
        peer.new_order(SHFE, f"O{n}", "CU", "1", 4, **resting)
    peer.new_order(SHFE, "O9", "CU", "1", 1, **market)
    o3, o4, o5 = (peer.wait_reports(SHFE, f"O{n}", 2) for n in (3, 4, 5))
    o6 = peer.wait_reports(SHFE, "O6", 3)
    o7 = peer.wait_reports(SHFE, "O7", 2)
    assert peer.wait(lambda: any(m["11"].startswith("MANUAL-") and m["150"] == "F" for m in peer.reports(SHFE_DC)))
    assert peer.wait(lambda: [m["150"] for m in peer.reports(SHFE_DC, "O9")] == ["0", "F"])

    fill1 = next(m for m in o1 if m["150"] == "F")
    bust = next(m for m in o1 if m["150"] == "H")
    assert (bust["19"], bust["14"], bust["151"], bust["39"], bust["32"]) == (fill1["17"], "0", "0", "4", "0")
    fill2 = next(m for m in o2 if m["150"] == "F")
    corr = next(m for m in o2 if m["150"] == "G")
    assert (corr["19"], corr["32"], corr["14"], corr["6"]) == (fill2["17"], "3", "3", corr["31"])
    assert int(corr["31"]) == int(fill2["31"]) + 10
    assert [(m["150"], m["39"], m["38"], m["151"], m.get("378")) for m in o3][-1] == ("D", "0", "2", "2", "5")
    assert [(m["150"], m["39"], m["151"]) for m in o4][-1] == ("3", "3", "0")
    last = o5[-1]
    assert (last["150"], last["39"], last["58"], last["378"], "41" in last) == \
           ("4", "4", "cancelled on price limit", "8", False)
    assert [(m["150"], m["39"]) for m in o6[1:]] == [("9", "9"), ("D", "0")]
    assert [(m["150"], m["39"], m["151"]) for m in o7][-1] == ("C", "C", "0")
    # the order session hears nothing of the manual order, nor of O9's fill; the drop copy hears all
    assert not any(m["11"].startswith("MANUAL-") for m in peer.reports(SHFE))
    assert [m["150"] for m in peer.reports(SHFE, "O9")] == ["0"]
    mine = {m["17"] for m in peer.reports(SHFE)}
    copies = peer.reports(SHFE_DC)
    assert mine <= {m["17"] for m in copies} and all(m["797"] == "Y" for m in copies)
    assert peer.rejects_sent == []
    # the venue's positions: 4 carried, +3 (O2 corrected), +1 (O9), -1 opened short by the manual order
    assert _holding(_positions(sim), "SHFE", "XMC01", "CU") == \
           {"long_today": "4", "long_yday": "4", "short_today": "1", "short_yday": "0", "net": "7"}
    peer.send(SHFE, "AN", ("710", "PR1"), ("724", "0"), ("1", "XMC01"), ("581", "1"), ("715", "20260102"),
              ("60", utc_stamp().decode()[:21]))
    assert peer.wait(lambda: len(peer.messages(SHFE, "AP")) == 1)
    [ap] = _raw(peer, SHFE, "AP")
    assert _entries({}, ap) == [("SOD", "4", "0"), ("TQ", "4", "1")]
    assert peer.rejects_sent == []


# -- a gateway that stops answering -----------------------------------------------------------------------
SILENT = """
[[script]]
venue = "LME"
order = 1
action = "silent"
ms = 2000
held = "deliver"

[[script]]
venue = "LME"
order = 3
action = "silent"
ms = 1500
held = "drop"
"""


def _test_request(peer: FixPeer, p, test_id: str) -> bool:
    """A TestRequest answered by its Heartbeat: the session is up."""
    before = len(peer.app.admin_in)
    peer.send(p, "1", ("112", test_id))
    return peer.wait(lambda: any(fields(t).get("112") == test_id for _, t in peer.app.admin_in[before:]), 10)


def test_silent_gateway_keeps_the_session_up_and_answers_later_or_not_at_all(world):
    sim, peer = world(SILENT, [LME])

    peer.new_order(LME, "S1", "CA", "1", 1, tif="3")
    peer.send(LME, "H", ("11", "S1"), ("55", "CA"), ("54", "1"))
    assert _test_request(peer, LME, "up-1")
    assert peer.reports(LME, "S1") == []                     # answered heartbeats, not the order
    reports = peer.wait_reports(LME, "S1", 3)
    assert [m["150"] for m in reports] == ["0", "F", "I"]    # held, then delivered in order
    assert _holding(_positions(sim), "LME", "XMC01", "CA")["net"] == "1"

    peer.new_order(LME, "S2", "CA", "1", 1, tif="3")
    peer.wait_reports(LME, "S2", 2)
    peer.new_order(LME, "S3", "CA", "2", 1, tif="3")
    asked = 0
    deadline = time.monotonic() + 15
    while not peer.reports(LME, "S3") and time.monotonic() < deadline:
        peer.send(LME, "H", ("11", "S3"), ("55", "CA"), ("54", "2"))
        asked += 1
        peer.wait(lambda: bool(peer.reports(LME, "S3")), 0.5)
    got = peer.reports(LME, "S3")
    assert got and asked > 1                                 # the requests made while silent were lost
    assert [(m["150"], m["39"]) for m in got] == [("I", "2")]   # only what was asked, after the silence
    assert peer.rejects_sent == []


# -- a connection that goes quiet ---------------------------------------------------------------------------
def test_quiet_connection_stops_heartbeats_then_delivers_what_it_held(tmp_path):
    sim = _sim(tmp_path, '[[script]]\nvenue = "COMEX"\norder = 1\naction = "quiet"\nms = 2500\n')
    cred = sim.credentials["COMEX"]
    order = logon("127.0.0.1", sim.ports["COMEX"], "XMC", "COMEX", username=cred.username,
                  password=cred.password.reveal())
    copy = logon("127.0.0.1", sim.ports["COMEX"], "XMC", "COMEXDC", username=cred.username,
                 password=cred.password.reveal())
    try:
        order.send("D", [(11, "Q1"), (1, "XMC01"), (55, "HG"), (54, 1), (60, utc_stamp()), (38, 1), (40, 1),
                         (59, 3)])
        assert copy.wait_for(lambda f: field(f, b"11") == b"Q1" and field(f, b"150") == b"F", 10)
        assert not order.probe(timeout=1.0)                  # no Heartbeat for a TestRequest
        assert copy.probe(timeout=5.0)                       # the drop copy's connection is not quiet
        assert order.wait_for(lambda f: field(f, b"11") == b"Q1" and field(f, b"150") == b"F", 10)
        assert order.probe(timeout=5.0)
    finally:
        for p in (order, copy):
            p.logout()
        sim.proc.stop()


# -- asking the venue: mass status, positions, a read-only drop copy ------------------------------------
REQUESTS = """
[[position]]
venue = "SHFE"
account = "XMC01"
symbol = "CU"
long = 3
long_today = 1
short_today = 2
"""


def test_mass_status_positions_and_refusals_on_the_wire(world):
    sim, peer = world(REQUESTS, [SHFE, SHFE_DC, COMEX])

    peer.send(SHFE, "AF", ("584", "M0"), ("585", "7"))
    assert peer.wait(lambda: len(peer.reports(SHFE)) == 1)
    [none] = peer.reports(SHFE)
    assert (none["37"], none["150"], none["39"], none["584"], none["911"], none["912"]) == \
           ("NONE", "I", "8", "M0", "0", "Y")
    for cl in ("R1", "R2"):
        peer.new_order(SHFE, cl, "CU", "1", 1, "50000", pe="O")
        peer.wait_reports(SHFE, cl, 1)
    peer.send(SHFE, "AF", ("584", "M1"), ("585", "1"), ("55", "CU"), ("1", "XMC01"))
    assert peer.wait(lambda: len([m for m in peer.reports(SHFE) if m.get("584") == "M1"]) == 2)
    m1 = [m for m in peer.reports(SHFE) if m.get("584") == "M1"]
    assert [(m["11"], m["150"], m["911"], m["912"]) for m in m1] == [("R1", "I", "2", "N"), ("R2", "I", "2", "Y")]

    peer.send(SHFE, "AN", ("710", "P1"), ("724", "0"), ("1", "XMC01"), ("581", "1"), ("715", "20260102"),
              ("60", utc_stamp().decode()[:21]))
    assert peer.wait(lambda: peer.messages(SHFE, "AP"))
    [ao] = peer.messages(SHFE, "AO")
    [ap] = peer.messages(SHFE, "AP")
    assert (ao["710"], ao["727"], ao["728"], ao["729"]) == ("P1", "1", "0", "0")
    assert (ap["710"], ap["55"], ap["48"], ap["1"], ap["731"]) == ("P1", "CU", "cu2601", "XMC01", "2")
    assert _entries(ap, _raw(peer, SHFE, "AP")[0]) == [("SOD", "3", "0"), ("TQ", "1", "2")]

    peer.send(COMEX, "AN", ("710", "P2"), ("724", "0"), ("1", "XMC01"), ("581", "1"), ("715", "20260102"),
              ("60", utc_stamp().decode()[:21]))
    peer.new_order(SHFE_DC, "DC1", "CU", "1", 1, "50000", pe="O")
    assert peer.wait(lambda: peer.messages(COMEX, "j") and peer.messages(SHFE_DC, "j"))
    [j_comex] = peer.messages(COMEX, "j")
    [j_dc] = peer.messages(SHFE_DC, "j")
    assert (j_comex["372"], j_comex["380"], j_comex["379"]) == ("AN", "3", "P2")
    assert (j_dc["372"], j_dc["380"], j_dc["379"], j_dc["58"]) == ("D", "6", "DC1", "drop-copy session is read-only")
    assert peer.reports(SHFE, "DC1") == []
    assert peer.rejects_sent == []


# -- FIX 4.2 ------------------------------------------------------------------------------------------------
FIX42 = """
[[script]]
venue = "COMEX"
order = 1
action = "correct"
ms = 100
ticks = 2

[[script]]
venue = "COMEX"
order = 2
action = "bust"
ms = 100
"""


def test_a_fix42_session_gets_fix42_reports_and_its_drop_copy_fix44_copies(world):
    sim, peer = world(FIX42, [COMEX_42, COMEX_DC])

    peer.new_order(COMEX_42, "F1", "HG", "1", 2, tif="3")
    f1 = peer.wait_reports(COMEX_42, "F1", 3)
    peer.new_order(COMEX_42, "F2", "HG", "2", 1, tif="3")
    f2 = peer.wait_reports(COMEX_42, "F2", 3)
    peer.send(COMEX_42, "H", ("11", "F2"), ("55", "HG"), ("54", "2"))
    f2 = peer.wait_reports(COMEX_42, "F2", 4)

    fill = [m for m in f1 if m["20"] == "0" and m["150"] in ("1", "2")]
    assert [(m["20"], m["150"]) for m in f1][0] == ("0", "0") and fill
    corr = f1[-1]
    assert (corr["20"], corr["19"], corr["150"], corr["39"]) == ("2", fill[0]["17"], "2", "2")
    assert float(corr["31"]) == pytest.approx(float(fill[0]["31"]) + 0.001)
    bust, status = f2[-2], f2[-1]
    assert (bust["20"], bust["19"], bust["150"], bust["39"], bust["14"]) == ("1", f2[1]["17"], "1", "4", "0")
    assert (status["20"], status["150"], status["39"]) == ("3", "4", "4")
    assert all("797" not in m and ("19" in m) == (m["20"] in ("1", "2")) for m in f1 + f2)
    copies = peer.reports(COMEX_DC)
    assert {m["150"] for m in copies} >= {"0", "F", "G", "H"} and all(m["797"] == "Y" for m in copies)
    assert peer.rejects_sent == []


# -- the venue's day ends; the truth at stop ---------------------------------------------------------------
EOD = """
[[position]]
venue = "SHFE"
account = "XMC01"
symbol = "CU"
short = 1

[[script]]
venue = "SHFE"
order = 2
action = "end_of_day"
ms = 200
"""


def test_end_of_day_and_the_positions_the_simulator_writes(world):
    sim, peer = world(EOD, [SHFE])

    peer.new_order(SHFE, "E1", "CU", "1", 3, tif="3", pe="O")
    peer.wait_reports(SHFE, "E1", 2)
    peer.new_order(SHFE, "E2", "CU", "1", 2, "50000", pe="O")
    e2 = peer.wait_reports(SHFE, "E2", 2)
    assert [(m["150"], m["39"], m["151"]) for m in e2] == [("0", "0", "2"), ("3", "3", "0")]
    doc = _positions(sim)
    assert _holding(doc, "SHFE", "XMC01", "CU") == \
        {"long_today": "0", "long_yday": "3", "short_today": "0", "short_yday": "1", "net": "2"}
    peer.new_order(SHFE, "E3", "CU", "2", 1, tif="3", pe="T")          # nothing opened today any more
    assert peer.wait_reports(SHFE, "E3", 1)[0]["39"] == "8"
    peer.stop()
    sim.proc.stop()

    final = _positions(sim, "stop")
    assert final["reason"] == "stop" and _holding(final, "SHFE", "XMC01", "CU")["net"] == "2"
    eng = create_engine(sim.db_url)
    with eng.connect() as conn:
        rows = conn.execute(text("select detail from events where kind='sim_positions' order by id")).all()
    eng.dispose()
    assert [json.loads(d)["reason"] for (d,) in rows] == ["request", "stop"]
