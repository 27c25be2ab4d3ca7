"""A small hand-built audit database for the cost, latency, clock, coverage and HTML tests.

Pair CU_SHFE_LME (strategy file written by the ``strategy_file`` fixture): inner SHFE copper, 5 t a
lot, tick 10 CNY/t; outer LME copper, 25 t a lot, tick 0.5 USD/t; FX fixed at 7 CNY per USD; tax
factor 1.1. So one USD/t on the outer leg is 1 x 7 x 1.1 = 7.7 CNY per t, and both legs' tickets are
5 SHFE lots = 25 t against 1 LME lot = 25 t.

Tickets (md = the market-data receive time that decided each):

- TA  SELL_BASIS OPEN COMPLETED, md = T0 + 1 s. Decision: inner 79996 (VWAP of 3 @ 80000 and
  2 @ 79990), outer 10350, converted 10350 x 7.7 = 79695, basis 301; touch: SHFE bid 80000, LME ask
  10350. A1 SHFE SELL 5 sent md+40us, ack +200us, filled 5 @ 79990 at +300us; A2 LME BUY 1 sent
  md+50us, ack +450us, filled 1 @ 10351 at +800us.
- TB  SELL_BASIS OPEN UNWOUND, md = T0 + 1.5 s. Decision inner 80000, outer 10300, basis 690.
  B1 SHFE SELL 5 rejected; B2 LME BUY 1 filled @ 10300; B3 LME UNWIND SELL 1 filled @ 10290.
- TC  CU_SHFE_COMEX BUY_BASIS OPEN MISSED, md = T0 + 1.2 s: both orders rejected (a pair the
  strategy file does not know).
- TD  BUY_BASIS CLOSE COMPLETED, md = T0 + 4 s. Decision inner 80100 (= SHFE ask), outer 10400
  (= LME bid), converted 80080, basis 20. D1 SHFE BUY 5 filled @ 80110; D2 LME SELL 1 @ 10400.

Basis samples CU_SHFE_LME (cumulative signals/denials): T0+0.5s 0/0, T0+1.8s 3/1, T0+3.5s 4/1,
T0+5s 6/2; CU_SHFE_COMEX: T0+2s 2/0.

FIX messages. SHFE's clock is 1 ms ahead of ours: A1's report has TransactTime t0+1100us,
SendingTime t0+1150us, received t0+300us; a TestRequest at T0+3s is answered with SendingTime
+1100us, received +200us; market data at T0+3.1s is stamped +1000us and received +300us; the Logon
reply appears received 800 us before the venue stamped it. LME's clock is ours: A2's report is
stamped t0+200us and received t0+400us. LME's outgoing stream has a SequenceReset-GapFill (seq 2,
NewSeqNo 4) and its incoming stream lacks seq 3.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal as D

import pytest
from sqlalchemy import insert

from xmc_fix.audit import models
from xmc_fix.audit.writer import make_engine, message_row

SOH = "\x01"
T0 = 1_704_164_645_000_000_000   # 2024-01-02T03:04:05Z
US = 1_000
MS = 1_000_000
S = 1_000_000_000
SHFE, LME = "FIX.4.4:XMC->SHFE", "FIX.4.4:XMC->LME"
MD = {"TA": T0 + 1 * S, "TB": T0 + 1500 * MS, "TC": T0 + 1200 * MS, "TD": T0 + 4 * S}

STRATEGY = """
[engine]
namespace = "X"

[fx.USDCNY]
rate = 7
base = "USD"
quote = "CNY"

[instruments.SHFE_CU]
venue = "SHFE"
symbol = "CU"
currency = "CNY"
contract_size = 5
unit = "t"
tick = 10

[instruments.LME_CA]
venue = "LME"
symbol = "CA"
currency = "USD"
contract_size = 25
unit = "t"
tick = 0.5

[pairs.CU_SHFE_LME]
inner = "SHFE_CU"
outer = "LME_CA"
fx = "USDCNY"
tax_factor = 1.1
ticket_qty = 25
max_position = 50
entry_above = 250
exit_above = 60
entry_below = -250
exit_below = -60
"""


def fix_ts(ns: int) -> str:
    secs, rem = divmod(ns, S)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(secs)) + f".{rem // 1000:06d}"


def fix_msg(session: str, direction: str, msg_type: str, seq: int, ts_ns: int, sending_ns: int, *,
            run_id: str = "R1", **tags) -> dict:
    """A fix_messages row as the writer makes it; ``tags`` by number, e.g. ``t11="A1"``."""
    venue = session.rsplit(">", 1)[1]
    body = "".join(f"{k[1:]}={v}{SOH}" for k, v in tags.items())
    raw = (f"8=FIX.4.4{SOH}9=0{SOH}35={msg_type}{SOH}34={seq}{SOH}49=X{SOH}52={fix_ts(sending_ns)}{SOH}56=Y{SOH}"
           f"{body}10=000{SOH}")
    return message_row(run_id, session, venue, direction, raw, ts_ns)


def books(inner, outer) -> str:
    return json.dumps({"inner_book": inner, "outer_book": outer, "inner_age_ms": 1.0, "outer_age_ms": 1.0})


def ticket(tid, pair, direction, intent, state, basis, inner_px, outer_px, conv, decision, **kw) -> dict:
    md = MD[tid]
    row = dict(ticket_id=tid, run_id="R1", pair=pair, direction=direction, intent=intent, state=state,
               md_recv_ns=md, created_ns=md + 5 * US, sent_ns=md + 50 * US, ended_ns=md + 10 * MS,
               basis=D(basis), threshold=D(250), inner_px=D(inner_px), outer_px=D(outer_px),
               outer_converted=D(conv), fx=D(7), unit="t", inner_target_lots=D(5), outer_target_lots=D(1),
               residual=D(0), decision=decision, inner_filled_lots=D(0), outer_filled_lots=D(0), repairs=None)
    row.update(kw)
    return row


def order(cid, tid, leg, role, venue, side, qty, status, cum, avg, sent_ns, ack_us, price="1") -> dict:
    return dict(cl_ord_id=cid, run_id="R1", ticket_id=tid, leg=leg, role=role, venue=venue, symbol=venue[:2],
                side=side, qty=D(qty), ord_type="LIMIT", price=D(price), tif="IOC", status=status, cum_qty=D(cum),
                avg_px=None if avg is None else D(avg), created_ns=sent_ns, sent_ns=sent_ns,
                ack_ns=None if ack_us is None else sent_ns + ack_us * US, done_ns=sent_ns + ack_us * US)


def fill(eid, cid, tid, venue, qty, px, recv_ns) -> dict:
    return dict(run_id="R1", venue=venue, exec_id=eid, cl_ord_id=cid, ticket_id=tid, qty=D(qty), price=D(px),
                venue_ns=recv_ns, recv_ns=recv_ns)


def basis_event(pair, ts, signals, denials, sell="1", buy="2") -> dict:
    return dict(run_id="R1", ts_ns=ts, kind="basis", pair=pair,
                detail=json.dumps({"sell": sell, "buy": buy, "position": "0", "state": "ACTIVE",
                                   "signals": signals, "denials": denials}))


def write_db(url: str, **tables) -> None:
    eng = make_engine(url)
    with eng.begin() as conn:
        for name, rows in tables.items():
            for r in rows:   # one by one: rows of a table need not name the same columns
                conn.execute(insert(models.TABLES[name]), [r])
    eng.dispose()


@pytest.fixture
def fixmsg():
    """:func:`fix_msg`, for tests that add messages to the run."""
    return fix_msg


@pytest.fixture
def strategy_file(tmp_path):
    p = tmp_path / "strategy.toml"
    p.write_text(STRATEGY)
    return p


def cost_tables(strategy_path) -> dict:
    a1, a2 = MD["TA"] + 40 * US, MD["TA"] + 50 * US
    b = MD["TB"]
    d = MD["TD"]
    c = MD["TC"]
    y = T0 + 3 * S
    return dict(
        runs=[dict(run_id="R1", role="engine", started_ns=T0, ended_ns=T0 + 6 * S, namespace="X",
                   config=json.dumps({"strategy": str(strategy_path)}))],
        tickets=[
            ticket("TA", "CU_SHFE_LME", "SELL_BASIS", "OPEN", "COMPLETED", "301", "79996", "10350", "79695",
                   books([["80000", "3"], ["80010", "20"]], [["10349.5", "3"], ["10350", "2"]]),
                   inner_filled_lots=D(5), outer_filled_lots=D(1)),
            ticket("TB", "CU_SHFE_LME", "SELL_BASIS", "OPEN", "UNWOUND", "690", "80000", "10300", "79310",
                   books([["80000", "10"], ["80010", "5"]], [["10299.5", "1"], ["10300", "4"]]), repairs="UNWIND#1",
                   sent_ns=b + 35 * US, outer_filled_lots=D(0)),
            ticket("TC", "CU_SHFE_COMEX", "BUY_BASIS", "OPEN", "MISSED", "-300", "80010", "4.3", "80310",
                   books([["80000", "10"], ["80010", "5"]], [["4.2995", "1"], ["4.3", "4"]]), sent_ns=c + 40 * US),
            ticket("TD", "CU_SHFE_LME", "BUY_BASIS", "CLOSE", "COMPLETED", "20", "80100", "10400", "80080",
                   books([["80090", "5"], ["80100", "5"]], [["10400", "2"], ["10400.5", "1"]]), threshold=D(60),
                   sent_ns=d + 30 * US),
        ],
        orders=[
            order("A1", "TA", "INNER", "ENTRY", "SHFE", "SELL", 5, "FILLED", 5, "79990", a1, 200, "79970"),
            order("A2", "TA", "OUTER", "ENTRY", "LME", "BUY", 1, "FILLED", 1, "10351", a2, 450, "10354"),
            order("B1", "TB", "INNER", "ENTRY", "SHFE", "SELL", 5, "REJECTED", 0, None, b + 30 * US, 100),
            order("B2", "TB", "OUTER", "ENTRY", "LME", "BUY", 1, "FILLED", 1, "10300", b + 35 * US, 500),
            order("B3", "TB", "OUTER", "UNWIND", "LME", "SELL", 1, "FILLED", 1, "10290", b + 5 * MS, 300),
            order("C1", "TC", "INNER", "ENTRY", "SHFE", "BUY", 9, "REJECTED", 0, None, c + 30 * US, 150),
            order("C2", "TC", "OUTER", "ENTRY", "COMEX", "SELL", 4, "REJECTED", 0, None, c + 40 * US, 250),
            order("D1", "TD", "INNER", "ENTRY", "SHFE", "BUY", 5, "FILLED", 5, "80110", d + 20 * US, 100),
            order("D2", "TD", "OUTER", "ENTRY", "LME", "SELL", 1, "FILLED", 1, "10400", d + 30 * US, 100),
        ],
        fills=[fill("EA1", "A1", "TA", "SHFE", 5, "79990", a1 + 300 * US),
               fill("EA2", "A2", "TA", "LME", 1, "10351", a2 + 800 * US),
               fill("EB2", "B2", "TB", "LME", 1, "10300", b + 35 * US + 600 * US),
               fill("EB3", "B3", "TB", "LME", 1, "10290", b + 5 * MS + 400 * US),
               fill("ED1", "D1", "TD", "SHFE", 5, "80110", d + 20 * US + 500 * US),
               fill("ED2", "D2", "TD", "LME", 1, "10400", d + 30 * US + 700 * US)],
        ticket_events=[dict(run_id="R1", ticket_id="TB", ts_ns=b + 1 * MS, from_state="WORKING", to_state="LEGGED",
                            trigger="LEGS_MISMATCHED", cause="inner rejected"),
                       dict(run_id="R1", ticket_id="TB", ts_ns=b + 6 * MS, from_state="REPAIRING",
                            to_state="UNWOUND", trigger="REPAIR_UNWOUND", cause="unwound")],
        events=[basis_event("CU_SHFE_LME", T0 + 500 * MS, 0, 0, "100", "120"),
                basis_event("CU_SHFE_LME", T0 + 1800 * MS, 3, 1, "310", "330"),
                basis_event("CU_SHFE_COMEX", T0 + 2 * S, 2, 0, "-310", "-290"),
                basis_event("CU_SHFE_LME", T0 + 3500 * MS, 4, 1, "40", "55"),
                basis_event("CU_SHFE_LME", T0 + 5 * S, 6, 2, "10", "25"),
                dict(run_id="R1", ts_ns=b + 5 * MS, kind="repair_step", pair="CU_SHFE_LME", ticket_id="TB",
                     detail=json.dumps({"step": "UNWIND", "attempt": 1})),
                dict(run_id="R1", ts_ns=T0 + 100 * MS, kind="session_up", venue="SHFE"),
                dict(run_id="R1", ts_ns=T0 + 100 * MS, kind="session_up", venue="COMEX")],
        fix_messages=[
            fix_msg(SHFE, "out", "A", 1, T0, T0),
            fix_msg(SHFE, "in", "A", 1, T0 + 1 * MS, T0 + 1 * MS + 800 * US),
            fix_msg(SHFE, "out", "D", 2, a1, a1, t11="A1"),
            fix_msg(SHFE, "in", "8", 2, a1 + 300 * US, a1 + 1150 * US, t11="A1", t150="F",
                    t60=fix_ts(a1 + 1100 * US)),
            fix_msg(SHFE, "out", "1", 3, y, y, t112="TR1"),
            fix_msg(SHFE, "in", "0", 3, y + 200 * US, y + 1100 * US, t112="TR1"),
            fix_msg(SHFE, "in", "X", 4, y + 100 * MS + 300 * US, y + 100 * MS + 1000 * US),
            fix_msg(LME, "out", "A", 1, T0, T0),
            fix_msg(LME, "out", "4", 2, T0 + 5 * MS, T0 + 5 * MS, t123="Y", t36="4"),
            fix_msg(LME, "out", "D", 4, a2, a2, t11="A2"),
            fix_msg(LME, "in", "A", 1, T0 + 1 * MS, T0 + 1 * MS),
            fix_msg(LME, "in", "8", 2, a2 + 400 * US, a2 + 200 * US, t11="A2", t60=fix_ts(a2 + 200 * US)),
            fix_msg(LME, "in", "X", 4, T0 + 2500 * MS, T0 + 2500 * MS),
        ],
    )


@pytest.fixture
def make_cost_db(tmp_path):
    """Write the run into a new database whose runs.config names ``strategy_path``; returns its URL.
    ``change`` edits the tables first (e.g. to add rows)."""
    made = []

    def make(strategy_path, change=None) -> str:
        url = f"sqlite:///{tmp_path / f'costs{len(made)}.db'}"
        tables = cost_tables(strategy_path)
        if change is not None:
            change(tables)
        write_db(url, **tables)
        made.append(url)
        return url

    return make


@pytest.fixture
def cost_db(strategy_file, make_cost_db) -> str:
    return make_cost_db(strategy_file)
