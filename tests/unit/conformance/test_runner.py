"""The runner against a scripted stand-in acceptor on loopback: what it sends, how it frames what
it reads, and how promptly and clearly it passes or fails each kind of step."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone

import pytest

from xmc_fix.clock import ManualClock
from xmc_fix.conformance.deffile import parse
from xmc_fix.conformance.runner import CaseResult, StepFailure, Target, run_case, run_cases

NOW = datetime(2024, 3, 5, 14, 7, 9, tzinfo=timezone.utc)
CLOCK = ManualClock(int(NOW.timestamp() * 1e9))
LOGON_IN = "8=FIX.4.2|9=63|35=A|34=1|49=ISLD|52=20240305-14:07:09.123|56=TW42|98=0|108=30|10=071|"
LOGON_E = "E8=FIX.4.2|9=63|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW42|98=0|108=30|10=0|"


def b(text: str) -> bytes:
    return text.replace("|", "\x01").encode("latin-1")


def script(*lines: str):
    return parse("\n".join(line.replace("|", "\x01") for line in lines) + "\n", "case.def")


class StandIn:
    """A loopback acceptor that runs ``handler(conn, received)`` for each connection."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.received: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn) -> None:
        try:
            self.handler(conn, self.received)
        except OSError:
            pass

    def target(self, timeout: float = 5.0) -> Target:
        return Target("127.0.0.1", self.port, timeout=timeout, connect_timeout=2.0, pause=0.0)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def stand_in():
    made = []

    def make(handler):
        s = StandIn(handler)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def recv_some(conn, received, n=1):
    data = conn.recv(65536)
    received.append(data)
    return data


def test_sends_exactly_the_rendered_bytes_and_frames_replies_split_across_segments(stand_in):
    def handler(conn, received):
        recv_some(conn, received)
        data = b(LOGON_IN)
        for part in (data[:5], data[5:30], data[30:]):  # one message in three segments
            conn.sendall(part)
            time.sleep(0.05)
        conn.sendall(b(LOGON_IN.replace("34=1", "34=2")) + b(LOGON_IN.replace("34=1", "34=3")))  # two in one
        time.sleep(1)

    srv = stand_in(handler)
    case = script("iCONNECT", "I8=FIX.4.2|35=A|34=1|49=TW42|52=<TIME>|56=ISLD|98=0|108=30|", LOGON_E,
                  LOGON_E.replace("34=1", "34=2"), LOGON_E.replace("34=1", "34=3"))
    result = run_case(case, srv.target(), clock=CLOCK)
    assert result.passed, result.line()
    assert srv.received[0] == case.steps[1].render(NOW).encode()
    assert srv.received[0].startswith(b("8=FIX.4.2|9=59|35=A|34=1|49=TW42|52=20240305-14:07:09|"))


def test_a_line_giving_length_and_checksum_goes_out_byte_for_byte(stand_in):
    srv = stand_in(lambda conn, received: (recv_some(conn, received), time.sleep(0.5)))
    line = "I8=FIX.4.2|9=52|35=0|34=2|4garbled9=TW|52=<TIME>|56=ISLD|10=0|"
    assert run_case(script("iCONNECT", line, "iDISCONNECT"), srv.target(), clock=CLOCK).passed
    deadline = time.monotonic() + 2
    while not srv.received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.received[0] == b("8=FIX.4.2|9=52|35=0|34=2|4garbled9=TW|52=20240305-14:07:09|56=ISLD|10=0|")


def test_expected_disconnect_passes_as_soon_as_the_acceptor_closes(stand_in):
    srv = stand_in(lambda conn, received: (recv_some(conn, received), conn.close()))
    start = time.monotonic()
    result = run_case(script("iCONNECT", "I8=FIX.4.2|35=A|", "eDISCONNECT"), srv.target(timeout=10), clock=CLOCK)
    assert result.passed, result.line()
    assert time.monotonic() - start < 2


def test_expected_disconnect_fails_when_the_acceptor_sends_instead(stand_in):
    srv = stand_in(lambda conn, received: (recv_some(conn, received), conn.sendall(b(LOGON_IN)), time.sleep(1)))
    result = run_case(script("iCONNECT", "I8=FIX.4.2|35=A|", "eDISCONNECT"), srv.target(), clock=CLOCK)
    assert result.failure.line == 3
    assert result.failure.reason == "expected the acceptor to disconnect, got data"
    assert result.failure.received == LOGON_IN.replace("|", "\x01")


def test_expected_disconnect_fails_when_the_connection_stays_open(stand_in):
    srv = stand_in(lambda conn, received: (recv_some(conn, received), time.sleep(2)))
    result = run_case(script("iCONNECT", "I8=FIX.4.2|35=A|", "eDISCONNECT"), srv.target(timeout=0.3), clock=CLOCK)
    assert result.failure.reason == "connection still open after 0.3s, expected the acceptor to disconnect"


def test_an_expected_message_that_never_comes_fails_after_the_timeout(stand_in):
    srv = stand_in(lambda conn, received: (recv_some(conn, received), time.sleep(2)))
    start = time.monotonic()
    result = run_case(script("iCONNECT", "I8=FIX.4.2|35=A|", LOGON_E), srv.target(timeout=0.3), clock=CLOCK)
    assert 0.3 <= time.monotonic() - start < 1.5
    assert result.failure.reason == "no whole message within 0.3s"
    assert result.failure.expected.startswith("8=FIX.4.2\x019=63\x01")
    assert result.failure.received == ""


def test_a_partial_message_is_shown_when_the_rest_never_comes(stand_in):
    srv = stand_in(lambda conn, received: (recv_some(conn, received), conn.sendall(b(LOGON_IN)[:20]), time.sleep(2)))
    result = run_case(script("iCONNECT", "I8=FIX.4.2|35=A|", LOGON_E), srv.target(timeout=0.3), clock=CLOCK)
    assert result.failure.received == LOGON_IN.replace("|", "\x01")[:20]
    assert result.line().endswith("; received " + LOGON_IN[:20])


def test_an_unframeable_body_length_fails_showing_the_bytes(stand_in):
    srv = stand_in(lambda conn, received: (recv_some(conn, received), conn.sendall(b("8=FIX.4.2|9=x|35=A|")),
                                           time.sleep(1)))
    result = run_case(script("iCONNECT", "I8=FIX.4.2|35=A|", LOGON_E), srv.target(), clock=CLOCK)
    assert result.failure.reason == "unreadable message: BodyLength b'x' is not a number"
    assert result.failure.received == "8=FIX.4.2\x019=x\x0135=A\x01"


def test_an_expected_message_fails_when_the_acceptor_hangs_up(stand_in):
    srv = stand_in(lambda conn, received: (recv_some(conn, received), conn.close()))
    result = run_case(script("iCONNECT", "I8=FIX.4.2|35=A|", LOGON_E), srv.target(), clock=CLOCK)
    assert result.failure.reason == "connection closed by the acceptor, expected a message"


def test_a_case_stops_at_its_first_failing_step(stand_in):
    def handler(conn, received):
        recv_some(conn, received)
        conn.sendall(b(LOGON_IN.replace("34=1", "34=9")))
        time.sleep(0.5)
        received.append(conn.recv(65536))  # b"" when the runner closes without sending more

    srv = stand_in(handler)
    result = run_case(script("iCONNECT", "I8=FIX.4.2|35=A|", LOGON_E, "I8=FIX.4.2|35=5|"), srv.target(),
                      clock=CLOCK)
    assert result.failure.line == 3 and result.failure.reason == "field 34: expected '1' but was '9'"
    time.sleep(0.7)
    assert srv.received[-1] == b""


def test_a_refused_connection_fails_the_connect_step():
    port = socket.create_server(("127.0.0.1", 0))
    free = port.getsockname()[1]
    port.close()
    result = run_case(script("iCONNECT", "I8=FIX.4.2|35=A|"), Target("127.0.0.1", free, timeout=1), clock=CLOCK)
    assert result.failure.line == 1 and result.failure.reason.startswith(f"cannot connect to 127.0.0.1:{free}")


def test_sending_on_a_connection_never_opened_fails(stand_in):
    srv = stand_in(lambda conn, received: time.sleep(0.5))
    result = run_case(script("iCONNECT", "I2,8=FIX.4.2|35=A|"), srv.target(), clock=CLOCK)
    assert (result.failure.line, result.failure.reason) == (2, "connection 2 is not open")


def test_a_pass_and_a_failure_each_print_on_one_line_with_soh_as_bar():
    ok = CaseResult("fix42/1a.def", 0.25)
    bad = CaseResult("fix42/2b.def", 1.5, StepFailure(7, "E8=FIX.4.2\x0135=0\x01", "field 34: expected '3' but was '4'",
                                                      "8=FIX.4.2\x0134=3\x01", "8=FIX.4.2\x0134=4\x01"))
    assert ok.line() == "PASS fix42/1a.def (0.25s)"
    assert bad.line() == ("FAIL fix42/2b.def (1.50s) line 7 E: field 34: expected '3' but was '4'; "
                          "expected 8=FIX.4.2|34=3|; received 8=FIX.4.2|34=4|")
    conn = CaseResult("x.def", 0.0, StepFailure(3, "e2,DISCONNECT", "connection still open after 10s"))
    assert conn.line() == "FAIL x.def (0.00s) line 3 e2,DISCONNECT: connection still open after 10s"


def test_run_cases_reports_each_case_in_order_and_totals(stand_in):
    srv = stand_in(lambda conn, received: (recv_some(conn, received), conn.close()))
    good = script("iCONNECT", "I8=FIX.4.2|35=A|", "eDISCONNECT")
    bad = script("iCONNECT", "I8=FIX.4.2|35=A|", LOGON_E)
    seen = []
    summary = run_cases([good, bad, good], srv.target(), on_result=seen.append, clock=CLOCK)
    assert [r.passed for r in seen] == [True, False, True]
    assert summary.line().startswith("total: 3 cases, 2 passed, 1 failed (")
