"""The simulator's session faults: the ``[[fault]]`` scenario format, the plan that picks the
messages to spoil, the rewrites (checked against QuickFIX's own parser) and the proxy on loopback."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import quickfix as fix
import simplefix

from xmc_fix.errors import ConfigError
from xmc_fix.sim import faultproxy as fp
from xmc_fix.sim.behaviour import FaultSpec, load_scenario
from xmc_fix.sim.config import load_market

ROOT = Path(__file__).resolve().parents[3]


def message(seq: int = 17, msg_type: str = "8", **extra) -> bytes:
    m = simplefix.FixMessage()
    for tag, value in ((8, "FIX.4.4"), (35, msg_type), (34, seq), (49, "LME"), (52, "20260102-03:04:05.123456"),
                       (56, "XMC"), (11, "X-1"), (14, "1"), *extra.items()):
        m.append_pair(tag, value)
    return m.encode()


def quickfix_accepts(frame: bytes) -> bool:
    try:
        fix.Message(frame.decode("latin-1"), True)
    except fix.InvalidMessage:
        return False
    return True


# -- framing -------------------------------------------------------------------------------------
def test_split_frames_cuts_messages_passes_junk_and_keeps_a_partial_frame():
    a, b = message(1), message(2)
    items, rest = fp.split_frames(b"junk" + a + b + a[:10])
    assert items == [b"junk", a, b] and rest == a[:10]
    items, rest = fp.split_frames(rest + a[10:])
    assert items == [a] and rest == b""


def test_split_frames_passes_on_a_frame_whose_length_is_wrong():
    bad = message(1).replace(b"9=", b"9=1", 1)
    items, rest = fp.split_frames(bad + message(2) + b"x" * 200)
    assert b"".join(items) + rest == bad + message(2) + b"x" * 200


# -- rewrites --------------------------------------------------------------------------------------
def test_bad_checksum_is_refused_by_quickfix_and_changes_nothing_else():
    good = message()
    bad = fp.bad_checksum(good)
    assert quickfix_accepts(good) and not quickfix_accepts(bad)
    assert bad[:-4] == good[:-4]


def test_wrong_compid_and_stale_sending_time_are_well_formed_messages():
    wrong = fp.wrong_compid(message())
    stale = fp.stale_sending_time(message())
    assert quickfix_accepts(wrong) and quickfix_accepts(stale)
    assert fp.field(wrong, b"49") == b"WRONGLME"
    assert fp.field(stale, b"52") == b"20260102-02:04:05.123456"
    assert fp.field(stale, b"34") == b"17"


def test_garble_is_junk_and_a_truncated_frame():
    g = fp.garble(message())
    assert g.startswith(fp.GARBLE_PREFIX) and not fp.is_frame(g)
    assert message().startswith(g[len(fp.GARBLE_PREFIX):])


# -- the plan ----------------------------------------------------------------------------------
def test_after_hits_once_count_messages_of_the_type_given():
    plan = fp.FaultPlan("LME", [FaultSpec("LME", "skip", after=1, count=2, msg_type="8")])
    got = [plan.decide(t) for t in "8X88X8X8"]
    assert got == [None, None, "skip", "skip", None, None, None, None]


def test_every_and_limit():
    plan = fp.FaultPlan("LME", [FaultSpec("LME", "garble", every=3, limit=2)])
    got = [plan.decide("X") for _ in range(12)]
    assert [i for i, g in enumerate(got, 1) if g] == [3, 6]


def test_rates_are_seeded_and_start_after():
    spec = FaultSpec("LME", "bad_checksum", rate=0.2, after=10)

    def run(seed: int) -> list:
        plan = fp.FaultPlan("LME", [spec], seed=seed)
        return [plan.decide("X") for _ in range(300)]

    first = run(7)
    assert first == run(7) and first != run(8)
    assert not any(first[:10]) and 30 < sum(bool(g) for g in first) < 90


# -- the scenario format -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def market():
    return load_market(ROOT / "sessions" / "sim_market.toml")


def scenario(tmp_path, market, text: str):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return load_scenario(str(p), market, search_dir=tmp_path)


def test_faults_are_given_to_their_venue(tmp_path, market):
    b = scenario(tmp_path, market, '[[fault]]\nvenue = "LME"\nfault = "drop"\nafter = 40\n')
    assert b["LME"].faults == [FaultSpec("LME", "drop", after=40)]
    assert b["SHFE"].faults == []


@pytest.mark.parametrize("body, key, words", [
    ('venue = "LSE"\nfault = "drop"\nafter = 1', "fault[0].venue", "unknown venue 'LSE'"),
    ('venue = "LME"\nfault = "explode"\nafter = 1', "fault[0].fault", "unknown value 'explode' (use one of drop"),
    ('venue = "LME"\nfault = "skip"', "fault[0].after", "give one trigger"),
    ('venue = "LME"\nfault = "skip"\nafter = 1\nevery = 5', "fault[0].after", "give one trigger"),
    ('venue = "LME"\nfault = "skip"\nrate = 1.5', "fault[0].rate", "not a share"),
    ('venue = "LME"\nfault = "skip"\nevery = 3\ncount = 3', "fault[0].count", "do not fit"),
    ('venue = "LME"\nfault = "skip"\nafter = 1\nlimit = 2', "fault[0].limit", "only an every or rate"),
    ('venue = "LME"\nfault = "skip"\nafter = 1\ncuont = 2', "fault[0].cuont", "did you mean 'count'"),
])
def test_a_bad_fault_entry_names_the_key(tmp_path, market, body, key, words):
    with pytest.raises(ConfigError) as e:
        scenario(tmp_path, market, "[[fault]]\n" + body + "\n")
    assert e.value.key == key and words in e.value.line() and e.value.remedy


def test_the_shipped_session_faults_scenario_loads(market):
    b = load_scenario("session_faults", market, search_dir=ROOT / "sessions" / "scenarios")
    assert b["LME"].faults and b["SHFE"].faults


# -- the proxy on loopback ---------------------------------------------------------------------------
def _venue(frames: list[bytes]):
    """A listening socket that sends ``frames`` to its first client, then waits for it to close."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        with conn:
            conn.sendall(b"".join(frames))
            conn.settimeout(5)
            try:
                while conn.recv(1024):
                    pass
            except OSError:
                pass
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def _read_all(sock: socket.socket, want: int) -> bytes:
    sock.settimeout(5)
    out = b""
    while len(out) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


@pytest.mark.parametrize("fault", ["skip", "bad_checksum", "wrong_compid"])
def test_the_proxy_spoils_only_the_planned_message(fault):
    frames = [message(seq) for seq in (1, 2, 3)]
    upstream = _venue(frames)
    seen = []
    proxy = fp.FaultProxy("LME", fp.free_port(), upstream,
                          fp.FaultPlan("LME", [FaultSpec("LME", fault, after=1)]),
                          on_fault=lambda v, f, info: seen.append((v, f, info["seq_num"]))).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port)) as c:
            expected = [frames[0], *([] if fault == "skip" else [fp.REWRITE[fault](frames[1])]), frames[2]]
            got = _read_all(c, sum(map(len, expected)))
    finally:
        proxy.stop()
    assert got == b"".join(expected)
    assert seen == [("LME", fault, 2)]


def test_the_proxy_drop_closes_the_connection_before_the_message():
    frames = [message(seq) for seq in (1, 2, 3)]
    proxy = fp.FaultProxy("LME", fp.free_port(), _venue(frames),
                          fp.FaultPlan("LME", [FaultSpec("LME", "drop", after=1)])).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port)) as c:
            got = _read_all(c, 10_000)
    finally:
        proxy.stop()
    assert got == frames[0]


# -- a quiet connection --------------------------------------------------------------------------------
class _Venue:
    """An upstream that keeps its one client connection and sends or reads on the test's say."""

    def __init__(self) -> None:
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._ready = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(conn)
            self._ready.set()

    def conn(self, i: int = 0) -> socket.socket:
        assert self._ready.wait(5)
        while len(self.conns) <= i:
            threading.Event().wait(0.01)
        return self.conns[i]

    def close(self):
        for c in self.conns:
            c.close()
        self.srv.close()


def _logon(sender: bytes) -> bytes:
    m = simplefix.FixMessage()
    for tag, value in ((8, "FIX.4.4"), (35, "A"), (34, 1), (49, sender), (52, "20260102-03:04:05"), (56, "LME"),
                       (98, 0), (108, 30)):
        m.append_pair(tag, value)
    return m.encode()


def _nothing_for(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return not sock.recv(1)
    except socket.timeout:
        return True


def test_a_quiet_session_passes_nothing_either_way_then_everything_held_goes_on():
    venue = _Venue()
    proxy = fp.FaultProxy("LME", fp.free_port(), venue.port, fp.FaultPlan("LME", [])).start()
    try:
        quiet = socket.create_connection(("127.0.0.1", proxy.port))
        other = socket.create_connection(("127.0.0.1", proxy.port))
        quiet.sendall(_logon(b"XMC"))
        up_quiet = venue.conn(0)
        assert _read_all(up_quiet, len(_logon(b"XMC"))) == _logon(b"XMC")
        other.sendall(_logon(b"OTHER"))
        up_other = venue.conn(1)
        _read_all(up_other, len(_logon(b"OTHER")))

        proxy.hold("FIX.4.4:LME->XMC", 2.0)
        up_quiet.sendall(message(2))
        quiet.sendall(b"probe")
        up_other.sendall(message(3))

        assert _read_all(other, len(message(3))) == message(3)      # another session goes on
        assert _nothing_for(quiet, 0.3) and _nothing_for(up_quiet, 0.3)
        assert _read_all(quiet, len(message(2))) == message(2)      # after the hold
        assert _read_all(up_quiet, 5) == b"probe"
    finally:
        proxy.stop()
        venue.close()
