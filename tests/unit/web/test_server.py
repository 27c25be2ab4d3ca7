"""The web view's HTTP side over a real aiohttp server on loopback: control requests without the
token (or in a read-only view) are refused with 403 and never relayed; accepted ones are relayed
naming the browser's address; the page and the vendored chart library are served locally; only
loopback host names are answered. The engine's side is a recording relay here; the browser tests
relay to a real engine."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from xmc_fix.control.client import ControlError
from xmc_fix.web.feed import EngineFeed
from xmc_fix.web.server import TOKEN_HEADER, make_app
from xmc_fix.web.token import ControlToken

TOKEN = "k3y-0f-the-desk-4f9d2c7a1b"


class Relay:
    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, str, dict]] = []
        self.fail = fail

    def __call__(self, path, cmd, timeout, via, **args):
        self.calls.append((cmd, via, args))
        if self.fail:
            raise ControlError(self.fail)
        return {"global": {"state": "HALTED"}}


def _run(token, relay, scenario):
    async def go():
        feed = EngineFeed("/nonexistent/x.sock")
        app = make_app(feed, token=ControlToken(TOKEN, "t") if token else None, relay=relay)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            return await scenario(client, feed)
    return asyncio.run(go())


async def _post(client, body, token=None, **kw):
    headers = {TOKEN_HEADER: token} if token is not None else {}
    r = await client.post("/api/control", json=body, headers=headers, **kw)
    return r.status, await r.json()


@pytest.mark.parametrize("offered", [None, "", "wrong-token-0123456789", TOKEN[:-1]])
def test_a_control_request_without_the_right_token_is_refused_and_never_relayed(offered):
    relay = Relay()

    async def scenario(client, _):
        return await _post(client, {"cmd": "halt"}, offered)

    status, body = _run(True, relay, scenario)
    assert status == 403 and body == {"ok": False, "error": "refused: missing or wrong control token"}
    assert relay.calls == []


def test_a_read_only_view_refuses_every_action_even_with_a_token():
    relay = Relay()

    async def scenario(client, _):
        return [await _post(client, {"cmd": c}, TOKEN) for c in ("halt", "resume", "flatten", "cancel-all")]

    for status, body in _run(False, relay, scenario):
        assert status == 403 and "read-only" in body["error"]
    assert relay.calls == []


def test_an_accepted_action_is_relayed_with_the_browsers_address():
    relay = Relay()

    async def scenario(client, _):
        return await _post(client, {"cmd": "halt", "pair": "CU_SHFE_LME", "reason": "desk"}, TOKEN)

    status, body = _run(True, relay, scenario)
    assert status == 200 and body["ok"] is True and body["result"]["global"]["state"] == "HALTED"
    ((cmd, via, args),) = relay.calls
    assert cmd == "halt" and args == {"pair": "CU_SHFE_LME", "reason": "desk"}
    assert via.startswith("web view client 127.0.0.1:")


@pytest.mark.parametrize("body, why", [
    ({"cmd": "status"}, "cmd must be one of"),
    ({"cmd": "resume", "reason": "x"}, "resume takes no reason"),
    ({"cmd": "halt", "pair": 7}, "pair must be a short printable string"),
    ({"cmd": "halt", "reason": "a\nb"}, "reason must be a short printable string"),
    (["halt"], "cmd must be one of"),
])
def test_a_malformed_action_is_refused_before_the_engine(body, why):
    relay = Relay()

    async def scenario(client, _):
        return await _post(client, body, TOKEN)

    status, answer = _run(True, relay, scenario)
    assert status == 400 and why in answer["error"] and relay.calls == []


def test_an_engine_refusal_comes_back_as_bad_gateway():
    relay = Relay(fail="refused: unknown pair 'X'")

    async def scenario(client, _):
        return await _post(client, {"cmd": "halt", "pair": "X"}, TOKEN)

    status, body = _run(True, relay, scenario)
    assert status == 502 and body["error"] == "refused: unknown pair 'X'"


def test_the_page_and_the_vendored_chart_library_are_served_from_this_process():
    async def scenario(client, _):
        page = await client.get("/")
        text = await page.text()
        lib = await client.get("/static/vendor/uPlot.iife.min.js")
        lic = await client.get("/static/vendor/uPlot.LICENSE")
        return page.status, text, page.headers["Content-Security-Policy"], lib.status, await lic.text()

    status, text, csp, lib_status, licence = _run(False, Relay(), scenario)
    assert status == 200 and '<script src="/static/vendor/uPlot.iife.min.js">' in text
    assert "http" not in text.replace('http-equiv', '')   # no address outside this server
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert lib_status == 200 and "MIT License" in licence


def test_a_request_addressed_to_another_host_name_is_refused():
    async def scenario(client, _):
        r = await client.get("/api/snapshot", headers={"Host": "evil.example:8765"})
        ok = await client.get("/api/snapshot", headers={"Host": "localhost:8765"})
        return r.status, ok.status

    assert _run(False, Relay(), scenario) == (403, 200)


def test_the_event_stream_starts_with_the_settings_and_the_latest_snapshot():
    async def scenario(client, feed):
        feed.publish(feed.apply(1.0, {"pairs": {"P1": {"executable": {}}}}, {"run_id": "X-9"}))
        r = await client.get("/events")
        assert r.headers["Content-Type"].startswith("text/event-stream")
        got = b""
        while got.count(b"\n\n") < 2:
            got += await r.content.readany()
        r.close()
        return got.decode()

    text = _run(True, Relay(), scenario)
    first, second = text.split("\n\n")[:2]
    assert first.startswith("event: init\ndata: ") and '"control":true' in first and '"P1"' in first
    assert second.startswith("event: snapshot\ndata: ") and '"run_id":"X-9"' in second
