"""Per venue: how far its clock is from ours, and how long a message takes each way, estimated
from the FIX messages in the audit store (no extra traffic).

Method (NTP's on-wire calculation, RFC 5905 section 8, on FIX timestamps):

- An **order round trip** is one sample: ``t0`` our time handing the NewOrderSingle out
  (``fix_messages.ts_ns`` of the outgoing D), ``t1`` the venue's TransactTime (60) on its first
  execution report for that ClOrdID (when the venue processed the order), ``t2`` that report's
  SendingTime (52), ``t3`` our receive time of it. Then the round trip less the venue's holding
  time is ``delay = (t3 - t0) - (t2 - t1)`` and the venue clock's offset from ours is
  ``offset = ((t1 - t0) + (t2 - t3)) / 2`` (positive: the venue's clock is ahead). A report
  without TransactTime counts ``t1 = t2``. PossDup copies and reports marked PossResend are skipped.
- A **TestRequest round trip** (our TestRequest (1) answered by a Heartbeat (0) with the same
  TestReqID (112)) is a sample with ``t1 = t2 =`` the Heartbeat's SendingTime.
- The venue's **offset** is that of the sample with the smallest delay (NTP's clock filter: the
  fastest exchange had the least room for queueing on one side only); the true offset lies within
  ``offset_error_us = delay_min / 2`` of it if both of the venue's stamps are right. The median
  over samples is given too.
- **One-way latencies** after correcting by that offset: out = ``t1 - t0 - offset`` (our hand-off
  to the venue's processing: includes its queueing), in = ``t3 - t2 + offset`` (its SendingTime to
  our receipt), and for every other incoming message (market data included)
  ``ts_ns - SendingTime + offset``. ``inbound_apparent_p50_us`` is ``ts_ns - SendingTime`` without
  the correction, for venues we send no orders to (an FX feed): one-way latency minus the offset.

Limits: FIX timestamps have the precision the venue sends (here microseconds; a venue sending
milliseconds makes every figure +-1 ms); a path that is slower one way than the other shifts the
offset by half the difference, and nothing on the wire can tell the two apart.
"""

from __future__ import annotations

import pandas as pd

from xmc_fix.fixwire import parse_utc_ns, text_value

SAMPLE_COLUMNS = ["venue", "kind", "ref", "t0_ns", "t1_ns", "t2_ns", "t3_ns", "delay_us", "offset_us"]


def _sample(venue, kind, ref, t0, t1, t2, t3) -> dict:
    delay = (t3 - t0) - (t2 - t1)
    offset = ((t1 - t0) + (t2 - t3)) / 2
    return {"venue": venue, "kind": kind, "ref": ref, "t0_ns": t0, "t1_ns": t1, "t2_ns": t2, "t3_ns": t3,
            "delay_us": delay / 1000.0, "offset_us": offset / 1000.0}


def clock_samples(wire: pd.DataFrame) -> pd.DataFrame:
    """One row per round trip found in the messages (``wire``: fix_messages rows with ``raw`` for
    order and admin messages), with NTP delay and offset in microseconds."""
    if wire.empty:
        return pd.DataFrame(columns=SAMPLE_COLUMNS)
    w = wire.sort_values(["ts_ns", "id"])
    rows = []
    # order round trips
    out_d = w[(w["direction"] == "out") & (w["msg_type"] == "D") & w["cl_ord_id"].notna() & ~w["poss_dup"]]
    sent = out_d.drop_duplicates("cl_ord_id", keep="first").set_index("cl_ord_id")
    reports = w[(w["direction"] == "in") & (w["msg_type"] == "8") & w["cl_ord_id"].isin(sent.index)
                & ~w["poss_dup"]]
    seen = set()
    for r in reports.to_dict("records"):
        cid = r["cl_ord_id"]
        if cid in seen or text_value(r["raw"], 97) == "Y":
            continue
        s = sent.loc[cid]
        t0, t3 = int(s["ts_ns"]), int(r["ts_ns"])
        t2 = parse_utc_ns(r["sending_time"])
        if t2 is None or t3 < t0:
            continue
        seen.add(cid)
        t1 = parse_utc_ns(text_value(r["raw"], 60)) or t2
        rows.append(_sample(r["venue"], "order", cid, t0, t1, t2, t3))
    # TestRequest -> Heartbeat round trips
    tr = w[(w["direction"] == "out") & (w["msg_type"] == "1")]
    if not tr.empty:
        hb = w[(w["direction"] == "in") & (w["msg_type"] == "0")]
        answers = {}
        for r in hb.to_dict("records"):
            answers.setdefault((r["session"], text_value(r["raw"], 112)), r)
        for r in tr.to_dict("records"):
            req = text_value(r["raw"], 112)
            a = answers.get((r["session"], req))
            t2 = parse_utc_ns(a["sending_time"]) if a is not None else None
            if req is None or a is None or t2 is None or a["ts_ns"] < r["ts_ns"]:
                continue
            rows.append(_sample(r["venue"], "test_request", req, int(r["ts_ns"]), t2, t2, int(a["ts_ns"])))
    df = pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
    return df.astype({"delay_us": "float64", "offset_us": "float64"})


def _p(series, q) -> float | None:
    s = pd.Series(series, dtype="float64").dropna()
    return round(float(s.quantile(q)), 1) if not s.empty else None


def clock_estimates(wire: pd.DataFrame, samples: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per venue: offset estimate (min-delay sample and median), its error bound, round
    trip, and one-way latencies out, in (execution reports) and in for every other message."""
    cols = ["venue", "samples", "order_samples", "test_request_samples", "offset_us", "offset_p50_us",
            "offset_error_us", "delay_min_us", "delay_p50_us", "one_way_out_p50_us", "one_way_in_p50_us",
            "inbound_messages", "inbound_one_way_p50_us", "inbound_one_way_p99_us", "inbound_apparent_p50_us"]
    if samples is None:
        samples = clock_samples(wire)
    venues = sorted(set(samples["venue"].dropna()) | (set(wire["venue"].dropna()) if not wire.empty else set()))
    inbound = wire[(wire["direction"] == "in") & ~wire["poss_dup"]] if not wire.empty else wire
    rows = []
    for v in venues:
        s = samples[samples["venue"] == v]
        row = {"venue": v, "samples": int(len(s)), "order_samples": int((s["kind"] == "order").sum()),
               "test_request_samples": int((s["kind"] == "test_request").sum())}
        theta = None
        if not s.empty:
            best = s.loc[s["delay_us"].idxmin()]
            theta = float(best["offset_us"])
            row.update(offset_us=round(theta, 1), offset_p50_us=_p(s["offset_us"], 0.5),
                       offset_error_us=round(float(best["delay_us"]) / 2, 1),
                       delay_min_us=round(float(best["delay_us"]), 1), delay_p50_us=_p(s["delay_us"], 0.5),
                       one_way_out_p50_us=_p((s["t1_ns"] - s["t0_ns"]) / 1000.0 - theta, 0.5),
                       one_way_in_p50_us=_p((s["t3_ns"] - s["t2_ns"]) / 1000.0 + theta, 0.5))
        iv = inbound[inbound["venue"] == v] if not inbound.empty else inbound
        row["inbound_messages"] = int(len(iv))
        if not iv.empty:
            st = iv["sending_time"].map(parse_utc_ns)
            ok = st.notna()
            # receipt minus the venue's SendingTime: one-way latency less the offset
            apparent = [(int(a) - int(b)) / 1000.0 for a, b in zip(iv.loc[ok, "ts_ns"], st[ok])]
            row["inbound_apparent_p50_us"] = _p(apparent, 0.5)
            if theta is not None:
                lat = [x + theta for x in apparent]
                row.update(inbound_one_way_p50_us=_p(lat, 0.5), inbound_one_way_p99_us=_p(lat, 0.99))
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)
