"""The control socket names a relaying client's origin (``via``) beside the peer credentials it
checks, and refuses a ``via`` that is not a short printable string."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from xmc_fix.control.client import ControlError, request
from xmc_fix.control.server import ControlServer


class RecordingAudit:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def event(self, kind: str, ts_ns: int, **detail) -> None:
        self.events.append((kind, detail))


@pytest.fixture
def server():
    folder = Path(tempfile.mkdtemp(prefix="xmc"))   # Unix socket paths must stay short
    calls: list[tuple[str, dict, str]] = []
    audit = RecordingAudit()

    def run(cmd, args, who):
        calls.append((cmd, args, who))
        return {"done": cmd}

    srv = ControlServer(folder / "run" / "c.sock", run, audit).start()
    yield srv, calls, audit
    srv.stop()
    shutil.rmtree(folder, ignore_errors=True)


def _raw(path: Path, body: dict) -> dict:
    c = socket.socket(socket.AF_UNIX)
    c.connect(str(path))
    c.sendall((json.dumps(body) + "\n").encode())
    answer = json.loads(c.recv(65536))
    c.close()
    return answer


def test_a_relayed_request_is_run_and_audited_as_coming_through_its_relay(server):
    srv, calls, audit = server
    assert request(srv.path, "halt", via="web view client 127.0.0.1:5000", pair="P1", reason="x") == {"done": "halt"}
    ((cmd, args, who),) = calls
    assert cmd == "halt" and args == {"pair": "P1", "reason": "x"}   # via is not an argument of the command
    assert who.startswith("web view client 127.0.0.1:5000 via ")
    assert f"(uid {os.getuid()}, pid {os.getpid()})" in who           # the peer credentials stay in who
    ((kind, detail),) = audit.events
    assert kind == "operator" and detail["who"] == who and detail["ok"] is True
    assert detail["args"]["via"] == "web view client 127.0.0.1:5000"


def test_without_via_who_is_the_peer_as_before(server):
    srv, calls, _ = server
    request(srv.path, "status")
    ((_, _, who),) = calls
    assert " via " not in who and f"(uid {os.getuid()}, pid {os.getpid()})" in who


@pytest.mark.parametrize("via", [7, "", "two\nlines", "x" * 201])
def test_a_via_that_is_not_a_short_printable_string_is_refused(server, via):
    srv, calls, audit = server
    answer = _raw(srv.path, {"cmd": "halt", "via": via})
    assert answer["ok"] is False and "via must be a printable string" in answer["error"]
    assert calls == []
    assert audit.events[-1][1]["ok"] is False


def test_the_client_reports_a_refusal_as_an_error(server):
    srv, _, _ = server
    with pytest.raises(ControlError, match="via must be"):
        request(srv.path, "halt", via="bad\tvia")
