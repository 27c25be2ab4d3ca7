"""The web view's picture of the engine: live or down, the basis history per pair, a restart of
the engine, and browsers that read slowly. The engine is a scripted ``ask`` here; the browser
tests (tests/integration/test_web.py) run the real one."""

from __future__ import annotations

import asyncio
import json

from xmc_fix.control.client import ControlError
from xmc_fix.web.feed import DOWN, LIVE, QUEUE_DEPTH, EngineFeed


def _watch(sell="10.5", buy="30.25", pair="P1"):
    return {"pairs": {pair: {"state": "ACTIVE", "executable": {
        "SELL_BASIS": {"basis": sell}, "BUY_BASIS": {"basis": buy}}}},
        "global": {"state": "ACTIVE", "reason": ""}, "open_tickets": [], "alerts": [], "venues_up": []}


def _status(run_id="X-1"):
    return {"run_id": run_id, "global": {"state": "ACTIVE", "reason": ""}, "pairs": {}}


class ScriptedEngine:
    """Answers like the control socket; ``down`` makes every request fail as a stopped engine does."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.down = False
        self.run_id = "X-1"
        self.sell = "10"

    def __call__(self, path, cmd, timeout):
        self.asked.append(cmd)
        if self.down:
            raise ControlError(f"no engine is running with control socket {path}")
        return _watch(self.sell) if cmd == "watch" else _status(self.run_id)


def test_each_poll_extends_the_basis_history_of_each_pair():
    feed = EngineFeed("/nonexistent/x.sock", interval=0.25)
    m1 = feed.apply(100.0, _watch("10.5", "30.25"), _status())
    m2 = feed.apply(100.25, _watch(None, "31"), None)
    assert m1["engine"]["state"] == LIVE and m1["engine"]["run_id"] == "X-1"
    assert m1["points"] == {"P1": (100.0, 10.5, 30.25)}
    assert m2["points"] == {"P1": (100.25, None, 31.0)}   # no executable size that way: a gap, not a zero
    init = json.loads(feed.init_message(control=False))
    assert init["history"]["P1"] == {"t": [100.0, 100.25], "sell": [10.5, None], "buy": [30.25, 31.0]}
    assert init["control"] is False


def test_the_history_keeps_only_its_window():
    feed = EngineFeed("/nonexistent/x.sock", interval=1.0, history_s=10)
    for i in range(25):
        feed.apply(float(i), _watch(str(i)), None)
    assert [p[0] for p in feed.history["P1"]] == [float(i) for i in range(15, 25)]


def test_a_stopped_engine_shows_as_down_and_its_restart_starts_a_new_history():
    feed = EngineFeed("/nonexistent/x.sock")
    feed.apply(1.0, _watch(), _status("X-1"))
    down = feed.down(2.0, "no engine is listening")
    assert down["engine"]["state"] == DOWN and down["watch"] is None and down["status"] is None
    assert "no engine is running" in down["engine"]["error"]   # the socket file is gone
    assert down["engine"]["last_seen"] == 1.0
    back = feed.apply(5.0, _watch(), _status("X-2"))
    assert back["engine"]["state"] == LIVE and back["engine"]["since"] == 5.0 and back["engine"]["run_id"] == "X-2"
    assert [p[0] for p in feed.history["P1"]] == [5.0]


def test_polling_asks_for_status_about_once_a_second_and_at_once_after_an_engine_returns():
    engine = ScriptedEngine()
    now = [0.0]
    feed = EngineFeed("/nonexistent/x.sock", ask=engine, interval=0.25, status_every=1.0, wall=lambda: now[0])

    async def polls():
        for t, down in ((0.0, False), (0.25, False), (0.5, False), (1.1, False), (1.3, True), (1.5, False),
                        (1.6, False)):
            now[0] = t
            engine.down = down
            await feed.poll_once()
            assert feed.engine["state"] == (DOWN if down else LIVE)

    asyncio.run(polls())
    assert engine.asked == ["watch", "status", "watch", "watch", "watch", "status",   # 0.0, 0.25, 0.5, 1.1
                            "watch",                                                 # 1.3: down
                            "watch", "status", "watch"]                              # back: status at once


def test_a_slow_browser_gets_the_newest_snapshots_and_never_blocks_the_feed():
    async def run():
        feed = EngineFeed("/nonexistent/x.sock")
        q = feed.subscribe()
        for i in range(QUEUE_DEPTH + 5):
            feed.publish(feed.apply(float(i), _watch(str(i)), None))
        got = [json.loads(q.get_nowait())["ts"] for _ in range(q.qsize())]
        feed.unsubscribe(q)
        return got, feed.listeners

    got, listeners = asyncio.run(run())
    assert got == [float(i) for i in range(5, QUEUE_DEPTH + 5)] and listeners == 0
