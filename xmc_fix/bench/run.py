"""``xmc bench``: xmc_fix against QuickFIX-Python's own floor, measured in one run on this machine.

Stages (each a real engine over real sessions against :mod:`tickserver`, except the floor):

1. floor — bare QuickFIX-Python round trip (NewOrderSingle -> ExecutionReport) and ingest rate;
2. decision latency — market-data callback entry to the second leg handed to QuickFIX, in the engine
   (one pair, audit on), median, p99, p99.9, with a breakdown by stage;
3. tick-to-trade on the wire — the venue sending the crossing tick to the venue receiving both
   orders, against the floor's round trip;
4. market-data throughput — one venue flooding as fast as it can, the engine (books, basis, signals,
   audit) against the bare ingest rate; and five venues at 5,000 messages a second each, checking
   whether the lag from the venue's SendingTime to our processing grows over the run;
5. audit — decision latency with the audit writer off against on, and the writer's sustained rate;
6. scale — five venues and ten pairs against one pair.

Figures are printed as a table with the floor beside each and the ratio, written as JSON, and as an
HTML page with histograms. Nothing here asserts a speed: the targets are reported as met or not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class Plan:
    rounds: int          # ping-pong ticks (each one ticket)
    floor_samples: int
    ingest_s: float
    flood_s: float
    load_s: float
    load_rate: int = 5000


QUICK = Plan(rounds=300, floor_samples=500, ingest_s=2.0, flood_s=2.0, load_s=4.0)
FULL = Plan(rounds=2000, floor_samples=2000, ingest_s=4.0, flood_s=5.0, load_s=15.0)
TINY = Plan(rounds=20, floor_samples=50, ingest_s=0.5, flood_s=0.5, load_s=1.0, load_rate=500)


def _pct(xs, q: float):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _summary(xs: list[float]) -> dict:
    return {"n": len(xs), "p50": _r(_pct(xs, 0.5)), "p99": _r(_pct(xs, 0.99)), "p999": _r(_pct(xs, 0.999)),
            "max": _r(max(xs)) if xs else None}


def _r(x):
    return round(x, 1) if x is not None else None


class World:
    """N venues, each with some instruments, and pairs on distinct instruments of different venues."""

    def __init__(self, work: Path, venues: int, pairs: int) -> None:
        self.work = work
        per = -(-2 * pairs // venues)  # instruments per venue
        self.venues = [f"V{i + 1}" for i in range(venues)]
        from xmc_fix.demo import free_ports
        ports = free_ports(venues)
        self.ports = dict(zip(self.venues, ports))
        insts = [(v, f"S{s + 1}") for s in range(per) for v in self.venues]
        self.pairs = [(insts[2 * k], insts[2 * k + 1]) for k in range(pairs)]
        used = {i for p in self.pairs for i in p}
        self.symbols = {v: [s for (vv, s) in insts if vv == v and (vv, s) in used] for v in self.venues}

    def write(self, name: str) -> tuple[Path, Path]:
        d = self.work / name
        d.mkdir(parents=True, exist_ok=True)
        spec = ROOT / "fixspecs" / "FIX44-XMC.xml"
        cfg = ["[DEFAULT]", "ConnectionType=initiator", "BeginString=FIX.4.4", "SenderCompID=XMC",
               "SocketConnectHost=127.0.0.1", "HeartBtInt=30", "ReconnectInterval=1", "StartTime=00:00:00",
               "EndTime=00:00:00", f"FileStorePath={d / 'store'}", "UseDataDictionary=Y", f"DataDictionary={spec}",
               "ResetOnLogon=Y", "TimestampPrecision=6", "SocketNodelay=Y"]
        for v in self.venues:
            cfg += ["[SESSION]", f"Venue={v}", f"TargetCompID={v}", f"SocketConnectPort={self.ports[v]}"]
        (d / "venues.cfg").write_text("\n".join(cfg) + "\n")
        st = ['[engine]', 'namespace = "B"', 'md_depth = 5', 'ticket_timeout_ms = 5000', 'basis_sample_ms = 0',
              f'journal = "{d / "journal.jsonl"}"', "", "[risk]", "max_message_rate = 1000000", "max_ack_ms = 60000",
              "stale_halt_ms = 600000", ""]
        for v, syms in self.symbols.items():
            for s in syms:
                st += [f"[instruments.{v}_{s}]", f'venue = "{v}"', f'symbol = "{s}"', 'currency = "USD"',
                       "contract_size = 1", 'unit = "t"', "tick = 0.5", "max_order_qty = 1000", ""]
        for k, ((vi, si), (vo, so)) in enumerate(self.pairs):
            st += [f"[pairs.P{k + 1}]", f'inner = "{vi}_{si}"', f'outer = "{vo}_{so}"', "ticket_qty = 1",
                   "max_position = 1", "entry_above = 100", "exit_above = 5", "entry_below = -100", "exit_below = -5",
                   "inner_slippage_ticks = 2", "outer_slippage_ticks = 2", "max_quote_age_ms = 600000", ""]
        (d / "strategy.toml").write_text("\n".join(st) + "\n")
        return d / "venues.cfg", d / "strategy.toml"

    def server_config(self, name: str, mode: str, **kw) -> Path:
        d = self.work / name
        cfg = {"venues": [{"name": v, "port": self.ports[v], "symbols": self.symbols[v]} for v in self.venues],
               "pairs": [{"inner": list(i), "outer": list(o)} for i, o in self.pairs], "mode": mode,
               "store": str(d / "server-store"), "result": str(d / "server-result.json"), **kw}
        p = d / "server.json"
        p.write_text(json.dumps(cfg))
        return p


def _engine_run(world: World, name: str, mode: str, *, audit: bool, server_kw: dict,
                wait_s: float) -> tuple[dict, dict]:
    """Tick server + engine (in this process); the server's results and the engine's stats."""
    from xmc_fix import app as A
    sessions_path, strategy_path = world.write(name)
    cfg = world.server_config(name, mode, **server_kw)
    proc = subprocess.Popen([sys.executable, "-m", "xmc_fix.bench.tickserver", str(cfg)], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, stderr=open(world.work / name / "server.log", "wb"), cwd=ROOT)
    eng = None
    try:
        if not proc.stdout.readline().startswith(b"READY"):
            raise RuntimeError(f"bench: tick server did not start (see {world.work / name / 'server.log'})")
        db = f"sqlite:///{world.work / name / 'audit.db'}" if audit else None
        sockdir = Path(tempfile.mkdtemp(prefix="xmcb"))   # short: Unix socket paths are limited
        eng = A.engine_from_files(str(sessions_path), str(strategy_path), db, control_path=str(sockdir / "c.sock"))
        eng.engine.stats.trace = True
        eng.start()
        if not eng.wait_logged_on(15):
            raise RuntimeError("bench: engine did not log on")
        deadline = time.monotonic() + wait_s
        line = b""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith(b"DONE") or not line:
                break
        t_done = time.monotonic()
        processed_at_done = eng.serial.call(lambda: eng.engine.stats.md_updates)
        # let the engine drain what is queued, then stop
        last, stable = -1, 0
        while stable < 3 and time.monotonic() - t_done < 30:
            n = eng.serial.call(lambda: eng.engine.stats.md_updates)
            stable = stable + 1 if n == last else 0
            last = n
            time.sleep(0.1)
        drained_s = time.monotonic() - t_done
        st = eng.engine.stats
        eng.audit.flush()
        writer = eng.audit.stats
        stats = {"decision_to_send_ns": list(st.decision_to_send_ns), "stages": list(st.stages),
                 "md_lag": list(st.md_lag), "md_updates": st.md_updates, "md_at_done": processed_at_done,
                 "drained_s": drained_s, "tickets": st.tickets,
                 "writer_rows": sum(writer.rows.values()), "writer_seconds": getattr(writer, "write_seconds", 0.0),
                 "writer_max_backlog": writer.max_backlog}
        eng.stop(drain_s=1)
        eng = None
        proc.stdin.close()
        proc.wait(15)
        result = json.loads((world.work / name / "server-result.json").read_text())
        if "error" in result:
            raise RuntimeError(f"bench: {result['error']}")
        return result, stats
    finally:
        if eng is not None:
            try:
                eng.stop(drain_s=0.5)
            except Exception:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _stages(stages: list[tuple]) -> dict:
    """Median time of each step of the decision path, in us."""
    if not stages:
        return {}
    cols = list(zip(*stages))
    recv, ev, dec, first, last = cols
    return {
        "receive_to_evaluate": _r(_pct([(b - a) / 1e3 for a, b in zip(recv, ev)], 0.5)),
        "evaluate_to_decision": _r(_pct([(b - a) / 1e3 for a, b in zip(ev, dec)], 0.5)),
        "decision_to_first_sent": _r(_pct([(b - a) / 1e3 for a, b in zip(dec, first)], 0.5)),
        "first_to_second_sent": _r(_pct([(b - a) / 1e3 for a, b in zip(first, last)], 0.5)),
    }


def _lag_growth(lag: list[tuple[int, int]]) -> dict:
    if len(lag) < 6:
        return {"first_third_p50_us": None, "last_third_p50_us": None, "growth": None}
    n = len(lag) // 3
    a = _pct([x[1] / 1e3 for x in lag[:n]], 0.5)
    b = _pct([x[1] / 1e3 for x in lag[-n:]], 0.5)
    return {"first_third_p50_us": _r(a), "last_third_p50_us": _r(b), "growth": _r(b / a) if a else None}


def run(plan: Plan, work: Path, progress: Callable[[str], None] = lambda s: None) -> dict:
    from xmc_fix.bench.floor import measure
    t_start = time.time()
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                             "platform": sys.platform, "date": time.strftime("%Y-%m-%d")},
                 "plan": plan.__dict__}

    progress("1/6 floor: bare QuickFIX-Python round trip and ingest")
    floor = measure(work / "floor", samples=plan.floor_samples, ingest_s=plan.ingest_s)
    out["floor"] = {"rtt_us": {k: v for k, v in floor["rtt_us"].items() if k != "samples"},
                    "ingest_per_s": floor["ingest_per_s"]}
    samples = {"floor_rtt_us": floor["rtt_us"]["samples"]}

    progress("2/6 one pair: decision latency and tick-to-trade (audit on)")
    w1 = World(work, venues=2, pairs=1)
    res, st = _engine_run(w1, "one-audit", "pingpong", audit=True, server_kw={"rounds": plan.rounds},
                          wait_s=60 + plan.rounds * 0.05)
    dec = [x / 1e3 for x in st["decision_to_send_ns"]]
    ttt = res["tick_to_trade_us"]
    out["decision_latency_us"] = _summary(dec)
    out["decision_stages_us_p50"] = _stages(st["stages"])
    out["tick_to_trade_us"] = {**_summary(ttt), "timeouts": res["timeouts"]}
    samples |= {"decision_us": dec, "tick_to_trade_us": ttt}

    progress("3/6 audit off: the same ticks without the audit writer")
    w1b = World(work, venues=2, pairs=1)
    res_off, st_off = _engine_run(w1b, "one-noaudit", "pingpong", audit=False, server_kw={"rounds": plan.rounds},
                                  wait_s=60 + plan.rounds * 0.05)
    dec_off = [x / 1e3 for x in st_off["decision_to_send_ns"]]
    out["decision_latency_audit_off_us"] = _summary(dec_off)
    samples["decision_audit_off_us"] = dec_off

    progress("4/6 scale: five venues, ten pairs")
    w10 = World(work, venues=5, pairs=10)
    res10, st10 = _engine_run(w10, "ten", "pingpong", audit=True, server_kw={"rounds": plan.rounds},
                              wait_s=60 + plan.rounds * 0.05)
    dec10 = [x / 1e3 for x in st10["decision_to_send_ns"]]
    out["scale"] = {"one_pair": {"decision_us": out["decision_latency_us"], "tick_to_trade_us": out["tick_to_trade_us"]},
                    "ten_pairs": {"decision_us": _summary(dec10),
                                  "tick_to_trade_us": {**_summary(res10["tick_to_trade_us"]),
                                                       "timeouts": res10["timeouts"]}}}
    samples["decision_ten_pairs_us"] = dec10

    progress("5/6 throughput: one venue flooding as fast as it can (audit on)")
    wf = World(work, venues=1, pairs=1)          # one session, as the floor's ingest
    resf, stf = _engine_run(wf, "flood", "flood", audit=True, server_kw={"rate": 0, "seconds": plan.flood_s},
                            wait_s=60 + plan.flood_s)
    sent = sum(resf["sent"].values())
    secs = resf["seconds"]
    out["throughput"] = {"sent": sent, "seconds": round(secs, 3), "offered_per_s": round(sent / secs),
                         "engine_per_s_during_flood": round(stf["md_at_done"] / secs),
                         "engine_processed": stf["md_updates"], "drain_s_after_flood": round(stf["drained_s"], 2),
                         "engine_per_s_sustained": round(stf["md_updates"] / (secs + max(0.0, stf["drained_s"] - 0.3))),
                         "lag": _lag_growth(stf["md_lag"])}
    out["audit_writer"] = {"rows": stf["writer_rows"], "busy_seconds": round(stf["writer_seconds"], 3),
                           "rows_per_busy_s": round(stf["writer_rows"] / stf["writer_seconds"])
                           if stf["writer_seconds"] else None, "max_backlog": stf["writer_max_backlog"]}

    progress(f"6/6 load: five venues at {plan.load_rate} messages a second each")
    wl = World(work, venues=5, pairs=10)
    resl, stl = _engine_run(wl, "load", "flood", audit=True,
                            server_kw={"rate": plan.load_rate, "seconds": plan.load_s}, wait_s=60 + plan.load_s)
    sent_l = sum(resl["sent"].values())
    out["load"] = {"rate_per_venue": plan.load_rate, "venues": 5, "offered_per_s": round(sent_l / resl["seconds"]),
                   "engine_per_s": round(stl["md_at_done"] / resl["seconds"]), "sent": sent_l,
                   "processed": stl["md_updates"], "drain_s_after": round(stl["drained_s"], 2),
                   "lag": _lag_growth(stl["md_lag"])}
    out["seconds"] = round(time.time() - t_start, 1)
    out["targets"] = _targets(out)
    out["_samples"] = samples
    return out


def _targets(o: dict) -> list[dict]:
    rtt = o["floor"]["rtt_us"]["p50"]
    ttt = o["tick_to_trade_us"]["p50"]
    ing = o["floor"]["ingest_per_s"]
    thr = o["throughput"]["engine_per_s_sustained"]
    on = o["decision_latency_us"]["p99"]
    off = o["decision_latency_audit_off_us"]["p99"]
    one = o["scale"]["one_pair"]["decision_us"]["p99"]
    ten = o["scale"]["ten_pairs"]["decision_us"]["p99"]
    lg = o["load"]["lag"]["growth"]
    rows = [
        ("decision latency p99 < 150 us", on, "us", on is not None and on < 150),
        ("tick-to-trade p50 within 1.3x the floor round trip", ttt / rtt if ttt and rtt else None, "x",
         bool(ttt and rtt and ttt <= 1.3 * rtt)),
        ("engine throughput >= 80% of bare ingest", thr / ing if thr and ing else None, "share",
         bool(thr and ing and thr >= 0.8 * ing)),
        ("no backlog growth at 5,000 msg/s x 5 venues", lg, "x lag growth",
         bool(lg is not None and lg < 1.5 and o["load"]["engine_per_s"] >= 0.95 * o["load"]["offered_per_s"])),
        ("audit on p99 within 1.2x audit off", on / off if on and off else None, "x", bool(on and off and on <= 1.2 * off)),
        ("ten pairs p99 < 2x one pair", ten / one if ten and one else None, "x", bool(ten and one and ten < 2 * one)),
    ]
    return [{"target": t, "value": _r(v) if isinstance(v, float) and v > 10 else (round(v, 3) if v is not None else None),
             "unit": u, "met": m} for t, v, u, m in rows]


def render_table(o: dict) -> str:
    f = o["floor"]
    rtt, ing = f["rtt_us"]["p50"], f["ingest_per_s"]

    def row(name, value, floor, ratio=None, unit=""):
        v = "-" if value is None else f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
        fl = "-" if floor is None else f"{floor:,.1f}" if isinstance(floor, float) else f"{floor:,}"
        ra = "-" if ratio is None else f"{ratio:.2f}x"
        return f"{name:<46}{v:>12} {unit:<6}{fl:>12}{ra:>9}"

    d, t = o["decision_latency_us"], o["tick_to_trade_us"]
    doff = o["decision_latency_audit_off_us"]
    ten = o["scale"]["ten_pairs"]
    thr, load = o["throughput"], o["load"]
    lines = [f"xmc bench  {o['machine']['date']}  {o['machine']['cpus']} cpus  python {o['machine']['python']}"
             f"  ({o['seconds']} s)", "",
             f"{'figure':<46}{'value':>12} {'':<6}{'floor':>12}{'ratio':>9}",
             row("floor round trip (bare QuickFIX) p50", rtt, rtt, 1.0, "us"),
             row("floor round trip p99", f["rtt_us"]["p99"], f["rtt_us"]["p99"], 1.0, "us"),
             row("decision latency p50 (callback -> 2nd leg)", d["p50"], rtt, d["p50"] / rtt if d["p50"] else None, "us"),
             row("decision latency p99", d["p99"], None, None, "us"),
             row("decision latency p99.9", d["p999"], None, None, "us"),
             row("tick-to-trade p50 (wire, venue to venue)", t["p50"], rtt, t["p50"] / rtt if t["p50"] else None, "us"),
             row("tick-to-trade p99", t["p99"], f["rtt_us"]["p99"],
                 t["p99"] / f["rtt_us"]["p99"] if t["p99"] else None, "us"),
             row("engine md throughput (sustained)", thr["engine_per_s_sustained"], ing,
                 thr["engine_per_s_sustained"] / ing if ing else None, "msg/s"),
             row(f"load {load['venues']}x{load['rate_per_venue']}/s: processed", load["engine_per_s"],
                 load["offered_per_s"], load["engine_per_s"] / load["offered_per_s"] if load["offered_per_s"] else None,
                 "msg/s"),
             row("load: lag growth (last third / first third)", load["lag"]["growth"], None, None, "x"),
             row("decision p99, audit off", doff["p99"], d["p99"], d["p99"] / doff["p99"] if doff["p99"] else None, "us"),
             row("audit writer rows per busy second", o["audit_writer"]["rows_per_busy_s"], None, None, "rows"),
             row("decision p99, ten pairs", ten["decision_us"]["p99"], d["p99"],
                 ten["decision_us"]["p99"] / d["p99"] if d["p99"] else None, "us"),
             row("tick-to-trade p50, ten pairs", ten["tick_to_trade_us"]["p50"], t["p50"],
                 ten["tick_to_trade_us"]["p50"] / t["p50"] if t["p50"] else None, "us"),
             "", "decision path, median per stage (us): " + ", ".join(
                 f"{k.replace('_', ' ')} {v}" for k, v in o["decision_stages_us_p50"].items()),
             "", "targets:"]
    for tg in o["targets"]:
        lines.append(f"  [{'met' if tg['met'] else 'NOT met':>7}] {tg['target']:<52} {tg['value']} {tg['unit']}")
    return "\n".join(lines) + "\n"


def render_html(o: dict) -> str:
    import base64
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = o["_samples"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, (key, title) in zip(axes.flat, (("floor_rtt_us", "floor: bare QuickFIX round trip"),
                                            ("decision_us", "decision latency, one pair (audit on)"),
                                            ("decision_audit_off_us", "decision latency, audit off"),
                                            ("tick_to_trade_us", "tick-to-trade on the wire"))):
        xs = s.get(key) or []
        if xs:
            hi = _pct(xs, 0.99) * 1.5
            ax.hist([x for x in xs if x <= hi], bins=50, color="#4878a8")
            ax.axvline(_pct(xs, 0.5), color="#c44e52", label=f"median {_pct(xs, 0.5):.0f} us")
            ax.legend()
        ax.set_title(title)
        ax.set_xlabel("microseconds")
        ax.set_ylabel("samples")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    img = base64.b64encode(buf.getvalue()).decode()
    table = render_table(o).replace("&", "&amp;").replace("<", "&lt;")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>xmc bench {o['machine']['date']}</title>"
            f"<style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f5f5f5;padding:1em}}</style></head>"
            f"<body><h1>xmc bench</h1><pre>{table}</pre><img alt='latency histograms' "
            f"src='data:image/png;base64,{img}'></body></html>\n")


def main(quick: bool, json_path: str | None, html_path: str | None, tiny: bool = False,
         progress: Callable[[str], None] = lambda s: None) -> dict:
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
    return out
