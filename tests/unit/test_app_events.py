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

    def post_sync(self, fn, *args):
        self.posted.append(("sync", fn, args))
        return True


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
    assert rec.posted == [("sync", "engine.on_event", (ev,))]     # applied before QuickFIX counts it received


def test_other_events_go_straight_to_the_engine():
    app, rec = wiring()

    A.EngineApp._on_event(app, SessionUp("COMEX", 1))

    assert not rec.events and len(rec.posted) == 1


def test_reports_are_applied_before_quickfix_counts_them_received_session_events_never_wait():
    from decimal import Decimal as D

    from xmc_fix.domain.enums import ExecType, OrdStatus, Side
    from xmc_fix.domain.events import ExecReport, SessionDown
    app, rec = wiring()
    er = ExecReport(venue="SHFE", cl_ord_id="X-1", orig_cl_ord_id=None, order_id="O1", exec_id="E1",
                    exec_type=ExecType.TRADE, ord_status=OrdStatus.FILLED, side=Side.BUY, symbol="CU",
                    order_qty=D(1), cum_qty=D(1), leaves_qty=D(0), last_qty=D(1), last_px=D(1), avg_px=D(1),
                    text=None, poss_dup=False, venue_ns=None, recv_ns=1)
    A.EngineApp._on_event(app, er)
    A.EngineApp._on_event(app, SessionDown("SHFE", 2, "bye"))
    assert [p[0] for p in rec.posted] == ["sync", "engine.on_event"]
