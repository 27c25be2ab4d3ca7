"""How a simulated venue's reports reach its clients: the drop copy gets every report at once, the
order session as the scenario says — withheld, or not at all while the gateway is silent, or into a
connection gone quiet. Driven through the Exchange with a recording ``send`` and a manual clock."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.sim.sim_stubs import (C1, C2, ManualScheduler, make_exchange, make_market, mass_status_request,
                                      md_request, new_order, reports, scenario, status_request)
from xmc_fix.clock import ManualClock
from xmc_fix.sim.behaviour import Behaviour, Rates, load_scenario
from xmc_fix.sim.outbox import DropCopy

DC = "FIX.4.4:SHFEDC->C1"
DC_ACC2 = "FIX.4.4:SHFEDC->C2"


def _world(tmp_path, text: str = "", **kw):
    clock = ManualClock()
    sched = ManualScheduler(clock)
    b = scenario(tmp_path, text) if text else None
    ex, send = make_exchange(clock=clock, schedule=sched, behaviours=b, **kw)
    return ex, send, sched


# -- the drop copy ---------------------------------------------------------------------------------
def test_drop_copy_gets_every_report_with_the_same_execid_marked_as_a_copy():
    ex, send = make_exchange(drop_copies={"SHFE": [DropCopy(DC)]})

    ex.on_new_order("SHFE", C1, new_order("A1", qty="8", price="80020", tif="3"))
    ex.on_new_order("SHFE", C2, new_order("B1", qty="1", price="79000", tif="0", account="ACC2"))

    sent = send.take()
    mine, copies = reports([s for s in sent if s.session == C1]), reports([s for s in sent if s.session == DC])
    theirs = reports([s for s in sent if s.session == C2])
    assert [r["17"] for r in copies] == [r["17"] for r in mine] + [theirs[0]["17"]]
    assert all(c["797"] == "Y" for c in copies) and all("797" not in r for r in mine)
    assert [{k: v for k, v in c.items() if k not in ("797", "9", "10", "49", "56")} for c in copies[:3]] == \
           [{k: v for k, v in r.items() if k not in ("9", "10", "49", "56")} for r in mine]


def test_drop_copy_serves_only_its_accounts_and_answers_to_requests_are_not_copied():
    ex, send = make_exchange(drop_copies={"SHFE": [DropCopy(DC_ACC2, frozenset({"ACC2"}))]})

    ex.on_new_order("SHFE", C1, new_order("A1", qty="1", price="79000", tif="0", account="ACC1"))
    ex.on_new_order("SHFE", C2, new_order("B1", qty="1", price="79000", tif="0", account="ACC2"))
    ex.on_status("SHFE", C2, status_request("B1"))

    assert [r["11"] for r in reports(send.take(DC_ACC2))] == ["B1"]


# -- withheld reports ------------------------------------------------------------------------------
def test_withheld_fill_reaches_only_the_drop_copy_and_a_status_request_still_tells_the_truth(tmp_path):
    ex, send, _ = _world(tmp_path, '[[script]]\nvenue = "SHFE"\norder = 1\naction = "withhold"\n',
                         drop_copies={"SHFE": [DropCopy(DC)]})

    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010", tif="3"))
    sent = send.take()

    assert [r["150"] for r in reports([s for s in sent if s.session == C1])] == ["0"]
    assert [r["150"] for r in reports([s for s in sent if s.session == DC])] == ["0", "F"]
    ex.on_status("SHFE", C1, status_request("A1"))
    [st] = reports(send.take(C1))
    assert (st["39"], st["14"]) == ("2", "5")


def test_withheld_reports_with_a_delay_reach_the_order_session_that_much_later(tmp_path):
    ex, send, sched = _world(tmp_path, '[[script]]\nvenue = "SHFE"\norder = 1\naction = "withhold"\nms = 500\n',
                             drop_copies={"SHFE": [DropCopy(DC)]})

    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010", tif="3"))
    assert [r["150"] for r in reports(send.take(C1))] == ["0"]

    sched.advance(499)
    assert send.take(C1) == []
    sched.advance(1)
    assert [r["150"] for r in reports(send.take(C1))] == ["F"]


def test_later_fills_of_a_resting_withheld_order_also_skip_the_order_session(tmp_path):
    ex, send, _ = _world(tmp_path, '[[script]]\nvenue = "SHFE"\norder = 1\naction = "withhold"\n',
                         drop_copies={"SHFE": [DropCopy(DC)]})
    ex.on_new_order("SHFE", C1, new_order("A1", qty="2", side="2", price="80000", tif="0"))
    send.take()

    ex.on_new_order("SHFE", C2, new_order("B1", qty="2", price="80000", tif="3", account="ACC2"))

    sent = send.take()
    assert reports([s for s in sent if s.session == C1]) == []
    assert [r["11"] for r in reports([s for s in sent if s.session == DC]) if r["150"] == "F"] == ["A1", "B1"]


# -- a gateway that stops answering ----------------------------------------------------------------
SILENT = '[[script]]\nvenue = "SHFE"\norder = 1\naction = "silent"\nms = 2000\nheld = "{held}"\n'


def test_silent_gateway_holds_reports_and_answers_then_delivers_them_in_order(tmp_path):
    ex, send, sched = _world(tmp_path, SILENT.format(held="deliver"), drop_copies={"SHFE": [DropCopy(DC)]})
    ex.on_md_request("SHFE", C1, md_request("M1"))
    send.take()

    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010", tif="3"))
    ex.on_status("SHFE", C1, status_request("A1"))
    ex.on_mass_status("SHFE", C1, mass_status_request())

    sent = send.take()
    assert [s.msg_type for s in sent if s.session == C1] == ["X"]          # market data goes on
    assert [r["150"] for r in reports([s for s in sent if s.session == DC])] == ["0", "F"]
    assert ex.venues["SHFE"].positions[("ACC1", "CU")].long_today == D(5)   # it traded all the same
    sched.advance(2000)
    assert [(r["150"], r["39"]) for r in reports(send.take(C1))] == [("0", "0"), ("F", "2"), ("I", "2"), ("I", "8")]


def test_silent_gateway_that_drops_what_it_held_answers_only_what_is_asked_afterwards(tmp_path):
    ex, send, sched = _world(tmp_path, SILENT.format(held="drop"))

    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010", tif="3"))
    ex.on_status("SHFE", C1, status_request("A1"))
    sched.advance(2000)

    assert send.take(C1) == []
    ex.on_status("SHFE", C1, status_request("A1"))
    [st] = reports(send.take(C1))
    assert (st["150"], st["39"], st["14"]) == ("I", "2", "5")


def test_silence_is_per_session(tmp_path):
    ex, send, _ = _world(tmp_path, SILENT.format(held="drop"))

    ex.on_new_order("SHFE", C1, new_order("A1", qty="1", price="79000", tif="0"))
    ex.on_new_order("SHFE", C2, new_order("B1", qty="1", price="79000", tif="0"))

    assert [s.session for s in send.take()] == [C2]


def test_quiet_connection_is_asked_of_the_server_for_the_scripted_time(tmp_path):
    calls = []
    ex, send, _ = _world(tmp_path, '[[script]]\nvenue = "SHFE"\norder = 2\naction = "quiet"\nms = 1500\n',
                         quiet=lambda session, seconds: calls.append((session, seconds)))

    ex.on_new_order("SHFE", C1, new_order("A1", qty="1", price="79000", tif="0"))
    ex.on_new_order("SHFE", C1, new_order("A2", qty="1", price="79000", tif="0"))

    assert calls == [(C1, 1.5)]


# -- the scenario's draws --------------------------------------------------------------------------------
def test_venue_side_rates_change_none_of_the_other_decisions(tmp_path):
    base = "[default]\nreject_rate = 0.3\npartial_fill_rate = 0.3\nack_latency_ms = [0, 20]\nduplicate_rate = 0.2\n"
    extra = ("bust_rate = 0.5\ncorrect_rate = 0.5\nsilent_rate = 0.2\nwithhold_rate = 0.3\nforeign_rate = 0.2\n"
             "unsolicited_cancel_rate = 0.4\n")
    plain = scenario(tmp_path, base)["SHFE"]
    truth = scenario(tmp_path, base + extra)["SHFE"]

    a = [plain.plan() for _ in range(50)]
    b = [truth.plan() for _ in range(50)]

    keys = ("reject", "partial", "ack_ms", "fill_ms", "duplicate", "reorder", "late_fill", "disconnect")
    assert [[getattr(p, k) for k in keys] for p in a] == [[getattr(p, k) for k in keys] for p in b]
    assert any(p.events for p in b) and not any(p.events for p in a)


def test_same_seed_same_venue_side_decisions(tmp_path):
    text = "[default]\nbust_rate = 0.5\nsuspend_rate = 0.5\nresume_ms = [100, 900]\nforeign_rate = 0.3\n"

    behaviours = [scenario(tmp_path, text)["LME"] for _ in range(2)]

    runs = [[b.plan() for _ in range(30)] for b in behaviours]

    assert runs[0] == runs[1]
    assert {e.action for p in runs[0] for e in p.events} == {"bust", "suspend", "foreign"}


def test_a_venue_that_may_go_quiet_is_known_before_the_server_starts(tmp_path):
    assert scenario(tmp_path, "[venues.LME]\nquiet_rate = 0.1\n")["LME"].may_go_quiet
    assert not scenario(tmp_path, "[venues.LME]\nquiet_rate = 0.1\n")["SHFE"].may_go_quiet
    assert not Behaviour("X", Rates()).may_go_quiet
    assert load_scenario("calm", make_market(), search_dir=tmp_path) == {}


def test_a_withheld_resting_order_is_still_reported_by_mass_status(tmp_path):
    ex, send, _ = _world(tmp_path, '[[script]]\nvenue = "SHFE"\norder = 1\naction = "withhold"\n')
    ex.on_new_order("SHFE", C1, new_order("A1", qty="2", price="79000", tif="0"))
    send.take()

    ex.on_mass_status("SHFE", C1, mass_status_request("MS1"))

    assert [(r["11"], r["150"], r["912"]) for r in reports(send.take(C1))] == [("A1", "I", "Y")]
