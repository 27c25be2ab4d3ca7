"""``xmc bench``: xmc_fix against a plain QuickFIX-Python pair script and against QuickFIX-Python's
own floor, all measured in one run on this machine against the same tick source.

Stages (each a real peer over real sessions against :mod:`tickserver`, except the floor and the
journal's write cost); xmc_fix and the plain script (:mod:`plain`) run one after the other in each:

1. floor — bare QuickFIX-Python round trip (NewOrderSingle -> ExecutionReport) and ingest rate;
2. one pair — decision latency (market-data callback entry to the second leg handed to QuickFIX,
   measured in the peer) and tick-to-trade (the venue sending the crossing tick to the venue having
   both orders, measured in the tick server); xmc_fix with the audit on, off, with
   ``journal_sync = "intent"`` (the others run the default, ``batch``), and observed as a desk
   runs it (``xmc web`` polling the engine and a metrics scrape every second, each in its own
   process): in that stage the observers run and pause in alternate one-second windows, and the
   decisions of the two kinds of window are compared (one engine, one run: the machine's drift
   between stages does not enter that ratio);
3. ten pairs on five venues — the same, for scale;
4. one venue flooded as fast as it sends — sustained ingest (books, basis, signals and, for
   xmc_fix, the audit), against the bare ``fromApp`` ingest;
5. load — five venues at 5,000 messages a second each with the audit on, crossings among them:
   whether the peer processes what is offered, whether the lag from the venue's SendingTime to our
   receipt grows over the run, and the age of the book at each decision, by our receipt and by the
   venue's SendingTime;
6. the journal — one intent line written in each ``journal_sync`` mode.

Figures are printed as a table (:mod:`render`) with the plain script and the floor beside each and
both ratios, then each target of the engine with its figure, reference, ratio and met / not met;
written as JSON and as an HTML page with both peers' histograms. Nothing asserts a speed.
"""

from __future__ import annotations

import bisect
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable

from xmc_fix.bench.peers import OBSERVE_WINDOW_S, EnginePeer, PlainPeer, World, run_stage
from xmc_fix.bench.render import render_html, render_markdown, render_table  # noqa: F401  (render_table: the CLI's)
from xmc_fix.bench.tickserver import MARK0


@dataclass
class Plan:
    rounds: int          # ping-pong ticks (each one ticket)
    floor_samples: int
    ingest_s: float
    flood_s: float
    load_s: float
    load_rate: int = 5000
    journal_lines: int = 1000
    ping_ms: int = 100   # under load: a crossing or its revert this often
    load_quote_age_ms: int = 2000   # under load: the pairs' max_quote_age_ms (the engine's default)
    observe_window_s: float = OBSERVE_WINDOW_S   # the observed stage: observers on, then paused, this long


QUICK = Plan(rounds=300, floor_samples=500, ingest_s=2.0, flood_s=2.0, load_s=4.0, journal_lines=200)
FULL = Plan(rounds=2000, floor_samples=2000, ingest_s=4.0, flood_s=5.0, load_s=15.0)
TINY = Plan(rounds=20, floor_samples=50, ingest_s=0.5, flood_s=0.5, load_s=1.0, load_rate=500, journal_lines=20,
            observe_window_s=0.05)


def _pct(xs, q: float):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _r(x):
    return round(x, 1) if x is not None else None


def _summary(xs: list[float]) -> dict:
    return {"n": len(xs), "p50": _r(_pct(xs, 0.5)), "p99": _r(_pct(xs, 0.99)), "p999": _r(_pct(xs, 0.999)),
            "max": _r(max(xs)) if xs else None}


def _stages(stages: list[tuple]) -> dict:
    """Median time of each step of xmc_fix's decision path, in us."""
    if not stages:
        return {}
    recv, ev, dec, first, last = list(zip(*stages))[:5]
    return {
        "receive_to_evaluate": _r(_pct([(b - a) / 1e3 for a, b in zip(recv, ev)], 0.5)),
        "evaluate_to_decision": _r(_pct([(b - a) / 1e3 for a, b in zip(ev, dec)], 0.5)),
        "decision_to_first_sent": _r(_pct([(b - a) / 1e3 for a, b in zip(dec, first)], 0.5)),
        "first_to_second_sent": _r(_pct([(b - a) / 1e3 for a, b in zip(first, last)], 0.5)),
    }


#: a decision that began this soon after the observers were paused or resumed counts in neither
#: window (a quarter of the window at most): a scrape or a watch answer under way when they stopped
#: still finishes in the engine
WINDOW_GUARD_NS = 50_000_000


def _windowed(stages: list[tuple], windows: list[tuple[int, bool]],
              guard_ns: int = WINDOW_GUARD_NS) -> tuple[list[float], list[float]]:
    """Decision latencies (us) of the observed stage, split by the window each decision began in:
    (observers running, observers paused)."""
    on: list[float] = []
    off: list[float] = []
    if not windows:
        return on, off
    starts = [t for t, _ in windows]
    for recv, _ev, _dec, _first, last in stages:
        i = bisect.bisect_right(starts, recv) - 1
        if i < 0 or recv - starts[i] < guard_ns:
            continue
        (on if windows[i][1] else off).append((last - recv) / 1e3)
    return on, off


def _lag_growth(lag: list) -> dict:
    """The median lag (SendingTime to our receipt) in the first and the last third of the samples."""
    if len(lag) < 6:
        return {"first_third_p50_us": None, "last_third_p50_us": None, "growth": None, "max_us": None}
    n = len(lag) // 3
    a = _pct([x[1] / 1e3 for x in lag[:n]], 0.5)
    b = _pct([x[1] / 1e3 for x in lag[-n:]], 0.5)
    return {"first_third_p50_us": _r(a), "last_third_p50_us": _r(b), "growth": round(b / a, 3) if a > 0 else None,
            "max_us": _r(max(x[1] / 1e3 for x in lag))}


def _pingpong(world: World, stage: str, peer, plan: Plan, *, wait_go: bool = False) -> tuple[dict, dict]:
    """One ping-pong run: its summaries (with the samples under ``_dec`` and ``_ttt``) and the peer's
    stats. ``wait_go``: the ticks wait for the peer to have started everything (the observed stage's
    web view and scraper), not only its sessions."""
    res, st = run_stage(world, stage, "pingpong", peer, server_kw={"rounds": plan.rounds, "wait_go": wait_go},
                        wait_s=60 + plan.rounds * 0.05)
    dec = [x / 1e3 for x in st["decision_to_send_ns"]]
    ttt = res["tick_to_trade_us"]
    return {"decision_us": _summary(dec), "tick_to_trade_us": {**_summary(ttt), "timeouts": res["timeouts"]},
            "_dec": dec, "_ttt": ttt}, st


def _ingest(res: dict, st: dict) -> dict:
    """Throughput figures of a flood or load run, from the server's counts and the peer's."""
    sent = sum(res["sent"].values())
    secs = res["seconds"]
    processed = st["md_updates"] - st["md_at_start"]
    during = st["md_at_done"] - st["md_at_start"]
    return {"sent": sent, "seconds": round(secs, 3), "offered_per_s": round(sent / secs),
            "processed_at_done": during, "processed": processed, "per_s_during": round(during / secs),
            "drain_s_after": round(st["drained_s"], 2),
            "per_s_sustained": round(processed / (secs + max(0.0, st["drained_s"] - 0.3))),
            "lag": _lag_growth(st["md_lag"])}


def _marker(book) -> int | None:
    """The tick server's marker among a recorded book top's sizes ([[bid, size], [ask, size]])."""
    for level in book or ():
        try:
            size = int(Decimal(level[1]))
        except (InvalidOperation, TypeError, IndexError, ValueError):
            continue
        if size >= MARK0:
            return size
    return None


def _book_age(decisions: list[dict], marks: dict, limit_ms: int, pings: int) -> dict:
    """Age of the book at each of xmc_fix's decisions: by our receipt (the older leg's book, as the
    engine's quote-age check sees it) and by the venue's SendingTime of the refresh that decided."""
    receipt, venue = [], []
    for d in decisions:
        dec = d["decision"] or {}
        ages = [dec.get(k) for k in ("inner_age_ms", "outer_age_ms") if isinstance(dec.get(k), (int, float))]
        if ages:
            receipt.append(max(ages))
        sent = marks.get(_marker(dec.get("inner_book")))
        if sent is not None:
            venue.append((d["created_ns"] - sent) / 1e6)
    return {"decisions": len(decisions), "crossings_offered": pings, "limit_ms": limit_ms,
            "by_receipt_ms": _ms_summary(receipt), "by_venue_ms": _ms_summary(venue),
            "over_limit": sum(1 for v in venue if v > limit_ms), "_venue": venue}


def _ms_summary(xs: list[float]) -> dict:
    def r(x):
        return round(x, 3) if x is not None else None
    return {"n": len(xs), "p50": r(_pct(xs, 0.5)), "p99": r(_pct(xs, 0.99)), "max": r(max(xs)) if xs else None}


def _journal(work: Path, intent_line: str | None, plan: Plan) -> dict:
    from xmc_fix.bench.journalcost import intent_record, measure
    kind, record = intent_record(intent_line)
    m = measure(work / "journal-cost", kind, record, plan.journal_lines)
    out: dict = {"kind": kind, "line_bytes": m["line_bytes"], "lines": plan.journal_lines}
    for mode in ("intent", "batch", "none"):
        out[mode] = {"write_us": _summary(m[mode]["write_us"])}
        if m[mode]["sync_us"]:
            out[mode]["timer_fsync_us"] = _summary(m[mode]["sync_us"])
    return out


def run(plan: Plan, work: Path, progress: Callable[[str], None] = lambda s: None) -> dict:
    from xmc_fix.bench.floor import measure
    t_start = time.time()
    out: dict = {"machine": _machine(), "plan": plan.__dict__}
    samples: dict = {}

    progress("1/6 floor: bare QuickFIX-Python round trip and ingest")
    floor = measure(work / "floor", samples=plan.floor_samples, ingest_s=plan.ingest_s)
    out["floor"] = {"rtt_us": {k: v for k, v in floor["rtt_us"].items() if k != "samples"},
                    "ingest_per_s": floor["ingest_per_s"]}
    samples["floor_rtt_us"] = floor["rtt_us"]["samples"]

    progress("2/6 one pair: decision latency and tick-to-trade (xmc_fix audit on, the plain script, "
             "xmc_fix audit off, xmc_fix journal_sync = intent, xmc_fix with the web view and metrics on)")
    w1 = World(work, venues=2, pairs=1)
    one, st = _pingpong(w1, "one-audit", EnginePeer(w1, "one-audit"), plan)
    plain_one, _ = _pingpong(w1, "one-plain", PlainPeer(w1, "one-plain"), plan)
    off, _ = _pingpong(w1, "one-noaudit", EnginePeer(w1, "one-noaudit", audit=False), plan)
    intent, _ = _pingpong(w1, "one-intent", EnginePeer(w1, "one-intent", journal_sync="intent"), plan)
    # three times the rounds: half of them fall in the windows the observers are paused, and a p99 of
    # either half is read from its 1% slowest decisions, which on a shared machine need many samples
    obs_plan = Plan(**{**plan.__dict__, "rounds": 3 * plan.rounds})
    observed, st_obs = _pingpong(w1, "one-observed", EnginePeer(w1, "one-observed", observed=True,
                                                                 window_s=plan.observe_window_s), obs_plan,
                                 wait_go=True)
    out["decision_latency_us"] = one["decision_us"]
    out["decision_stages_us_p50"] = _stages(st["stages"])
    out["tick_to_trade_us"] = one["tick_to_trade_us"]
    out["decision_latency_audit_off_us"] = off["decision_us"]
    guard = min(WINDOW_GUARD_NS, int(plan.observe_window_s * 1e9 / 4))
    obs_on, obs_off = _windowed(st_obs["stages"], st_obs.get("windows") or [], guard)
    out["decision_latency_observed_us"] = _summary(obs_on)
    out["decision_latency_observed_off_us"] = _summary(obs_off)
    out["observed"] = {"window_s": plan.observe_window_s, "windows": len(st_obs.get("windows") or []),
                       "guard_ms": guard / 1e6, "decisions": observed["decision_us"]["n"],
                       "scrapes": st_obs.get("scrapes")}
    out["observed_scrapes"] = st_obs.get("scrapes")
    out["plain"] = {"decision_latency_us": plain_one["decision_us"], "tick_to_trade_us": plain_one["tick_to_trade_us"]}
    samples |= {"decision_us": one["_dec"], "tick_to_trade_us": one["_ttt"], "decision_audit_off_us": off["_dec"],
                "plain_decision_us": plain_one["_dec"], "plain_tick_to_trade_us": plain_one["_ttt"],
                "decision_intent_us": intent["_dec"], "decision_observed_us": obs_on,
                "decision_observed_off_us": obs_off}

    progress("3/6 scale: five venues, ten pairs (xmc_fix, the plain script)")
    w10 = World(work, venues=5, pairs=10)
    ten, _ = _pingpong(w10, "ten", EnginePeer(w10, "ten"), plan)
    plain_ten, _ = _pingpong(w10, "ten-plain", PlainPeer(w10, "ten-plain"), plan)
    out["scale"] = {"one_pair": {"decision_us": one["decision_us"], "tick_to_trade_us": one["tick_to_trade_us"]},
                    "ten_pairs": {"decision_us": ten["decision_us"], "tick_to_trade_us": ten["tick_to_trade_us"]}}
    out["plain"]["ten_pairs"] = {"decision_us": plain_ten["decision_us"],
                                 "tick_to_trade_us": plain_ten["tick_to_trade_us"]}
    samples |= {"decision_ten_pairs_us": ten["_dec"], "plain_decision_ten_pairs_us": plain_ten["_dec"]}

    progress("4/6 throughput: one venue flooding as fast as it can (xmc_fix audit on, off, the plain script)")
    wf = World(work, venues=1, pairs=1)          # one session, as the floor's ingest
    kw = {"rate": 0, "seconds": plan.flood_s}
    resf, stf = run_stage(wf, "flood", "flood", EnginePeer(wf, "flood"), server_kw=kw, wait_s=60 + plan.flood_s)
    out["throughput"] = _ingest(resf, stf)
    out["audit_writer"] = {"rows": stf["writer_rows"], "busy_seconds": round(stf["writer_seconds"], 3),
                           "rows_per_busy_s": round(stf["writer_rows"] / stf["writer_seconds"])
                           if stf["writer_seconds"] else None, "max_backlog": stf["writer_max_backlog"]}
    res_o, st_o = run_stage(wf, "flood-noaudit", "flood", EnginePeer(wf, "flood-noaudit", audit=False),
                            server_kw=kw, wait_s=60 + plan.flood_s)
    out["throughput_audit_off"] = _ingest(res_o, st_o)
    res_p, st_p = run_stage(wf, "flood-plain", "flood", PlainPeer(wf, "flood-plain"), server_kw=kw,
                            wait_s=60 + plan.flood_s)
    out["plain"]["throughput"] = _ingest(res_p, st_p)

    progress(f"5/6 load: five venues at {plan.load_rate} messages a second each, crossings among them "
             "(xmc_fix audit on, the plain script)")
    wl = World(work, venues=5, pairs=10, max_quote_age_ms=plan.load_quote_age_ms)
    kw = {"rate": plan.load_rate, "seconds": plan.load_s, "ping_ms": plan.ping_ms}
    resl, stl = run_stage(wl, "load", "load", EnginePeer(wl, "load"), server_kw=kw, wait_s=60 + plan.load_s)
    age = _book_age(stl["decisions"], {int(k): v for k, v in resl["marks"].items()}, plan.load_quote_age_ms,
                    resl["pings"])
    out["load"] = {"rate_per_venue": plan.load_rate, "venues": 5, **_ingest(resl, stl), "tickets": stl["tickets"],
                   "book_age": {k: v for k, v in age.items() if not k.startswith("_")}}
    res_lp, st_lp = run_stage(wl, "load-plain", "load", PlainPeer(wl, "load-plain"), server_kw=kw,
                              wait_s=60 + plan.load_s)
    plain_age = [a / 1e6 for _, a in st_lp["decision_ages_ns"]]
    out["plain"]["load"] = {"rate_per_venue": plan.load_rate, "venues": 5, **_ingest(res_lp, st_lp),
                            "book_age": {"decisions": len(plain_age), "crossings_offered": res_lp["pings"],
                                         "by_venue_ms": _ms_summary(plain_age),
                                         "over_limit": sum(1 for a in plain_age if a > plan.load_quote_age_ms)}}
    samples |= {"book_age_venue_ms": age["_venue"], "plain_book_age_venue_ms": plain_age}

    progress("6/6 journal: one intent line in each journal_sync mode")
    out["journal"] = _journal(work, st["journal_intent"], plan)
    out["journal"]["decision_us"] = {"batch": one["decision_us"], "intent": intent["decision_us"]}
    out["journal"]["tick_to_trade_us"] = {"batch": one["tick_to_trade_us"], "intent": intent["tick_to_trade_us"]}

    out["seconds"] = round(time.time() - t_start, 1)
    out["targets"] = targets(out)
    out["_samples"] = samples
    return out


def _machine() -> dict:
    import quickfix
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
            "machine": platform.machine(), "quickfix": getattr(quickfix, "__version__", None) or _qf_version(),
            "date": time.strftime("%Y-%m-%d"), "time": time.strftime("%H:%M:%S %Z"),
            "load_avg_at_start": [round(x, 2) for x in load] if load else None}


def _qf_version() -> str | None:
    try:
        from importlib.metadata import version
        return version("quickfix")
    except Exception:
        return None


def _ratio(a, b):
    return a / b if a is not None and b else None


def targets(o: dict) -> list[dict]:
    """Each target of the engine: its figure, the reference it is held to, the ratio, met or not."""
    p = o["plain"]
    d, pd = o["decision_latency_us"], p["decision_latency_us"]
    load, age = o["load"], o["load"]["book_age"]
    lag = load["lag"]
    rows = [
        ("tick-to-trade p50 within 1.1x of the plain script's", o["tick_to_trade_us"]["p50"],
         p["tick_to_trade_us"]["p50"], "us", lambda r: r <= 1.1),
        ("decision p50 no worse than the plain script's", d["p50"], pd["p50"], "us", lambda r: r <= 1.0),
        ("decision p99 no worse than the plain script's", d["p99"], pd["p99"], "us", lambda r: r <= 1.0),
        ("one venue flooded: sustained ingest at least the plain script's", o["throughput"]["per_s_sustained"],
         p["throughput"]["per_s_sustained"], "msg/s", lambda r: r >= 1.0),
        (f"{load['venues']} venues x {load['rate_per_venue']:,} msg/s, audit on: processed = offered",
         load["per_s_during"], load["offered_per_s"], "msg/s", lambda r: r >= 0.99),
        (f"{load['venues']} venues x {load['rate_per_venue']:,} msg/s: lag growth <= 1.1x (last third / first)",
         lag["last_third_p50_us"], lag["first_third_p50_us"], "us", lambda r: r <= 1.1),
        ("audit on within 1.2x of audit off at p99", d["p99"], o["decision_latency_audit_off_us"]["p99"], "us",
         lambda r: r <= 1.2),
        ("ten pairs within 2x of one pair at p99", o["scale"]["ten_pairs"]["decision_us"]["p99"], d["p99"], "us",
         lambda r: r <= 2.0),
        ("web view and metrics on within 1.1x of off at p99 (alternate windows of one run)",
         o["decision_latency_observed_us"]["p99"], o["decision_latency_observed_off_us"]["p99"], "us",
         lambda r: r <= 1.1),
    ]
    out = []
    for name, fig, ref, unit, ok in rows:
        r = _ratio(fig, ref)
        out.append({"target": name, "figure": fig, "reference": ref, "unit": unit,
                    "ratio": round(r, 3) if r is not None else None, "met": bool(r is not None and ok(r))})
    worst = age["by_venue_ms"]["max"]
    out.append({"target": "never stale: no decision on a book older than the pair's limit (venue's clock)",
                "figure": worst, "reference": age["limit_ms"], "unit": "ms",
                "ratio": round(worst / age["limit_ms"], 3) if worst is not None else None,
                "met": age["over_limit"] == 0, "decisions": age["decisions"], "over_limit": age["over_limit"]})
    return out


def main(quick: bool, json_path: str | None, html_path: str | None, tiny: bool = False,
         progress: Callable[[str], None] = lambda s: None, markdown_path: str | None = None) -> dict:
    plan = TINY if tiny else QUICK if quick else FULL
    work = Path(tempfile.mkdtemp(prefix="xmc-bench-"))
    try:
        out = run(plan, work, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if json_path:
        Path(json_path).write_text(json.dumps({k: v for k, v in out.items() if k != "_samples"}, indent=2))
    if html_path:
        Path(html_path).write_text(render_html(out))
    if markdown_path:
        Path(markdown_path).write_text(render_markdown(out))
    return out
