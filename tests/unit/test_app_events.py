"""The wiring's hand-over of venue events to the engine: an uninterpretable message is stored (its
text masked and readable) before the engine sees it, whatever the engine makes of it."""

from __future__ import annotations

from types import SimpleNamespace

from xmc_fix import app as A
from xmc_fix.domain.events import SessionUp, Uninterpretable


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.posted: list[tuple] = []

    def event(self, kind, ts_ns, **detail):
        self.events.append((kind, ts_ns, detail))

    def post(self, fn, *args):
        self.posted.append((fn, args))


def wiring() -> tuple[SimpleNamespace, Recorder]:
    rec = Recorder()
    return SimpleNamespace(audit=rec, serial=rec, engine=SimpleNamespace(on_event="engine.on_event")), rec


def test_an_uninterpretable_message_is_stored_masked_and_handed_to_the_engine():
    app, rec = wiring()
    ev = Uninterpretable("COMEX", "8", 12, "tag 11 missing", "8=FIX.4.4\x0135=8\x01554=***\x01", 99, ())

    A.EngineApp._on_event(app, ev)

    [(kind, ts, detail)] = rec.events
    assert (kind, ts, detail["venue"], detail["msg_type"], detail["ref_seq_num"]) == ("uninterpretable", 99, "COMEX",
                                                                                      "8", 12)
    assert detail["raw"] == "8=FIX.4.4|35=8|554=***|" and detail["reason"] == "tag 11 missing"
    assert rec.posted == [("engine.on_event", (ev,))]


def test_other_events_go_straight_to_the_engine():
    app, rec = wiring()

    A.EngineApp._on_event(app, SessionUp("COMEX", 1))

    assert not rec.events and len(rec.posted) == 1
