"""``xmc bench``'s figures as a text table and as an HTML page with histograms.

Each row shows xmc_fix, the plain QuickFIX-Python script beside it with the ratio, and the floor
(bare QuickFIX-Python) where one exists with that ratio; then the targets, each with its figure,
reference, ratio and met / not met. This module computes nothing new: every number comes from
:func:`xmc_fix.bench.run.run`.
"""

from __future__ import annotations

import html


def _pct(xs, q: float):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.3g}"
    return f"{v:,}"


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "-"


def _row(name: str, unit: str, xmc, plain=None, floor=None) -> str:
    return (f"{name:<58}{_fmt(xmc):>11} {_fmt(plain):>11}{_ratio(xmc, plain):>8} {_fmt(floor):>11}"
            f"{_ratio(xmc, floor):>8}  {unit}")


def figure_rows(o: dict) -> list[tuple]:
    """(figure, unit, xmc_fix, plain script, floor) for every figure of the run."""
    f, p = o["floor"], o["plain"]
    rtt = f["rtt_us"]
    d, t = o["decision_latency_us"], o["tick_to_trade_us"]
    ten, pten = o["scale"]["ten_pairs"], p["ten_pairs"]
    thr, pthr, thr_off = o["throughput"], p["throughput"], o["throughput_audit_off"]
    load, pload = o["load"], p["load"]
    age, page = load["book_age"], pload["book_age"]
    jd = o["journal"]["decision_us"]
    return [
        ("floor round trip (bare QuickFIX) p50", "us", rtt["p50"], None, rtt["p50"]),
        ("floor round trip p99", "us", rtt["p99"], None, rtt["p99"]),
        ("decision latency p50 (callback -> 2nd leg handed over)", "us", d["p50"], p["decision_latency_us"]["p50"],
         None),
        ("decision latency p99", "us", d["p99"], p["decision_latency_us"]["p99"], None),
        ("decision latency p99.9", "us", d["p999"], p["decision_latency_us"]["p999"], None),
        ("tick-to-trade p50 (venue sends tick -> has both orders)", "us", t["p50"], p["tick_to_trade_us"]["p50"],
         rtt["p50"]),
        ("tick-to-trade p99", "us", t["p99"], p["tick_to_trade_us"]["p99"], rtt["p99"]),
        ("engine md throughput, one venue flooded (sustained)", "msg/s", thr["per_s_sustained"],
         pthr["per_s_sustained"], f["ingest_per_s"]),
        ("  the same, audit off", "msg/s", thr_off["per_s_sustained"], pthr["per_s_sustained"], f["ingest_per_s"]),
        (f"load {load['venues']}x{load['rate_per_venue']:,}/s: processed while offered "
         f"({load['offered_per_s']:,}/s; plain: {pload['offered_per_s']:,}/s)", "msg/s", load["per_s_during"],
         pload["per_s_during"], None),
        ("load: lag SendingTime->receipt p50, first third", "us", load["lag"]["first_third_p50_us"],
         pload["lag"]["first_third_p50_us"], None),
        ("load: lag p50, last third", "us", load["lag"]["last_third_p50_us"], pload["lag"]["last_third_p50_us"], None),
        ("load: lag growth (last third / first third)", "x", load["lag"]["growth"], pload["lag"]["growth"], None),
        ("load: drain after the venues stop", "s", load["drain_s_after"], pload["drain_s_after"], None),
        (f"load: decisions ({age['crossings_offered']} crossings offered)", "", age["decisions"], page["decisions"],
         None),
        ("load: book age at decision, by our receipt, p50", "ms", age["by_receipt_ms"]["p50"], None, None),
        ("load: book age at decision, by our receipt, max", "ms", age["by_receipt_ms"]["max"], None, None),
        ("load: book age at decision, by venue SendingTime, p50", "ms", age["by_venue_ms"]["p50"],
         page["by_venue_ms"]["p50"], None),
        ("load: book age at decision, by venue SendingTime, p99", "ms", age["by_venue_ms"]["p99"],
         page["by_venue_ms"]["p99"], None),
        ("load: book age at decision, by venue SendingTime, max", "ms", age["by_venue_ms"]["max"],
         page["by_venue_ms"]["max"], None),
        (f"load: decisions on a book older than {age['limit_ms']} ms (venue clock)", "", age["over_limit"],
         page["over_limit"], None),
        ("decision p99, audit off (xmc_fix against its own audit on)", "us",
         o["decision_latency_audit_off_us"]["p99"], None, None),
        ("decision p99, web view polling and metrics scraped every second (their windows)", "us",
         o["decision_latency_observed_us"]["p99"], None, None),
        ("decision p99, the same engine in the windows they are paused", "us",
         o["decision_latency_observed_off_us"]["p99"], None, None),
        ("decision p50, ten pairs on five venues", "us", ten["decision_us"]["p50"], pten["decision_us"]["p50"], None),
        ("decision p99, ten pairs", "us", ten["decision_us"]["p99"], pten["decision_us"]["p99"], None),
        ("tick-to-trade p50, ten pairs", "us", ten["tick_to_trade_us"]["p50"], pten["tick_to_trade_us"]["p50"],
         rtt["p50"]),
        ("decision p50, journal_sync = intent (default batch above)", "us", jd["intent"]["p50"], None, None),
        ("decision p99, journal_sync = intent", "us", jd["intent"]["p99"], None, None),
        ("audit writer records stored per busy second (each FIX message one, batched or not)", "records",
         o["audit_writer"]["rows_per_busy_s"], None, None),
    ]


def _journal_lines(j: dict) -> list[str]:
    out = [f"journal, one {j['kind']} line ({j['line_bytes']} bytes) per decision, {j['lines']} lines per mode:"]
    for mode in ("intent", "batch", "none"):
        w = j[mode]["write_us"]
        extra = ""
        if "timer_fsync_us" in j[mode]:
            s = j[mode]["timer_fsync_us"]
            extra = f"; then fsync on the timer thread p50 {_fmt(s['p50'])} / p99 {_fmt(s['p99'])} us"
        out.append(f"  {mode:<7} write p50 {_fmt(w['p50']):>8} / p99 {_fmt(w['p99']):>8} us{extra}")
    jd, jt = j["decision_us"], j["tick_to_trade_us"]
    out.append(f"  decision p50 / p99: intent {_fmt(jd['intent']['p50'])} / {_fmt(jd['intent']['p99'])} us, "
               f"batch {_fmt(jd['batch']['p50'])} / {_fmt(jd['batch']['p99'])} us "
               f"({_ratio(jd['intent']['p50'], jd['batch']['p50'])} / "
               f"{_ratio(jd['intent']['p99'], jd['batch']['p99'])});"
               f" tick-to-trade p50 intent {_fmt(jt['intent']['p50'])}, batch {_fmt(jt['batch']['p50'])} us")
    return out


def _heading(o: dict) -> str:
    m = o["machine"]
    return (f"xmc bench  {m['date']} {m.get('time', '')}  {m['cpus']} cpus  {m.get('platform', '')}  "
            f"python {m['python']}  quickfix {m.get('quickfix')}  load avg at start {m.get('load_avg_at_start')}"
            f"  ({o['seconds']} s)")


def render_table(o: dict) -> str:
    lines = [_heading(o), "", f"{'figure':<58}{'xmc_fix':>11} {'plain':>11}{'ratio':>8} {'floor':>11}{'ratio':>8}  unit"]
    lines += [_row(name, unit, xmc, plain, floor) for name, unit, xmc, plain, floor in figure_rows(o)]
    lines += [""] + _journal_lines(o["journal"])
    lines += [""] + [f"note: {n}" for n in notes(o)]
    lines += ["", "decision path, median per stage (us): " + ", ".join(
        f"{k.replace('_', ' ')} {v}" for k, v in o["decision_stages_us_p50"].items()), "", "targets:"]
    for tg in o["targets"]:
        ratio = "-" if tg["ratio"] is None else f"{tg['ratio']:.2f}x"
        lines.append(f"  [{'met' if tg['met'] else 'NOT met':>7}] {tg['target']:<86} {_fmt(tg['figure']):>9} vs "
                     f"{_fmt(tg['reference']):>9} {tg['unit']:<5} {ratio:>7}")
    return "\n".join(lines) + "\n"


def render_markdown(o: dict) -> str:
    """The targets and the figures as the README's tables."""
    lines = [f"`{_heading(o)}`", "", "| target | xmc_fix | reference | ratio | |", "| --- | --- | --- | --- | --- |"]
    for tg in o["targets"]:
        ratio = "-" if tg["ratio"] is None else f"{tg['ratio']:.2f}x"
        lines.append(f"| {tg['target']} | {_fmt(tg['figure'])} {tg['unit']} | {_fmt(tg['reference'])} {tg['unit']} "
                     f"| {ratio} | {'met' if tg['met'] else '**not met**'} |")
    lines += ["", "| figure | xmc_fix | plain script | ratio | floor | ratio |", "| --- | --- | --- | --- | --- | --- |"]
    for name, unit, xmc, plain, floor in figure_rows(o):
        def cell(v):
            return "-" if v is None else f"{_fmt(v)} {unit}".rstrip()
        lines.append(f"| {name.strip()} | {cell(xmc)} | {cell(plain)} | {_ratio(xmc, plain)} | {cell(floor)} "
                     f"| {_ratio(xmc, floor)} |")
    lines += ["", "```"] + _journal_lines(o["journal"]) + ["```"]
    lines += [f"- {n}" for n in notes(o)]
    return "\n".join(lines) + "\n"


def notes(o: dict) -> list[str]:
    """What the reader must know to trust the figures: a load the tick source could not offer, a
    machine already busy when the run began."""
    out = []
    for who, load in (("xmc_fix", o["load"]), ("the plain script", o["plain"]["load"])):
        nominal = load["venues"] * load["rate_per_venue"]
        if load["offered_per_s"] < 0.95 * nominal:
            out.append(f"in the load stage with {who} the tick source offered {load['offered_per_s']:,} of "
                       f"{nominal:,} msg/s: the machine could not generate the full load beside the peer")
    la = o["machine"].get("load_avg_at_start")
    if la and la[0] > 0.5:
        out.append(f"the machine's load average was {la[0]} when the run began: other work shares its "
                   f"{o['machine']['cpus']} cpus, and every figure is the worse for it")
    return out


_PANELS = (   # one row each: (samples, title) on the left (xmc_fix), the same on the right, and the unit
    ("decision_us", "xmc_fix: decision latency, one pair",
     "plain_decision_us", "plain script: decision latency, one pair", "us"),
    ("tick_to_trade_us", "xmc_fix: tick-to-trade on the wire, one pair",
     "plain_tick_to_trade_us", "plain script: tick-to-trade on the wire, one pair", "us"),
    ("decision_ten_pairs_us", "xmc_fix: decision latency, ten pairs",
     "plain_decision_ten_pairs_us", "plain script: decision latency, ten pairs", "us"),
    ("book_age_venue_ms", "xmc_fix: book age at decision under load (venue clock)",
     "plain_book_age_venue_ms", "plain script: book age at decision under load (venue clock)", "ms"),
    ("decision_audit_off_us", "xmc_fix, audit off: decision latency, one pair",
     "decision_intent_us", "xmc_fix, journal_sync = intent: decision latency, one pair", "us"),
)


def render_html(o: dict) -> str:
    import base64
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = o["_samples"]
    fig, axes = plt.subplots(len(_PANELS) + 1, 2, figsize=(12, 3.2 * (len(_PANELS) + 1)))
    for row, (left, left_title, right, right_title, unit) in zip(axes, _PANELS):
        both = (s.get(left) or []) + (s.get(right) or [])
        hi = _pct(both, 0.99) * 1.5 if both else 1      # one scale per row: the two sides compare by eye
        for ax, key, title in ((row[0], left, left_title), (row[1], right, right_title)):
            xs = s.get(key) or []
            if xs:
                ax.hist([x for x in xs if x <= hi], bins=50, range=(0, hi),
                        color="#4878a8" if ax is row[0] else "#dd8452")
                ax.axvline(_pct(xs, 0.5), color="#c44e52", label=f"median {_pct(xs, 0.5):,.1f} {unit}")
                ax.legend()
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(unit)
            ax.set_ylabel("samples")
    ax = axes[-1][0]
    xs = s.get("floor_rtt_us") or []
    if xs:
        ax.hist([x for x in xs if x <= _pct(xs, 0.99) * 1.5], bins=50, color="#55a868")
        ax.axvline(_pct(xs, 0.5), color="#c44e52", label=f"median {_pct(xs, 0.5):,.1f} us")
        ax.legend()
    ax.set_title("floor: bare QuickFIX round trip", fontsize=10)
    ax.set_xlabel("us")
    axes[-1][1].axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    img = base64.b64encode(buf.getvalue()).decode()
    table = html.escape(render_table(o))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>xmc bench {o['machine']['date']}</title>"
            f"<style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f5f5f5;padding:1em}}</style></head>"
            f"<body><h1>xmc bench</h1><pre>{table}</pre><img alt='latency histograms, xmc_fix beside the plain "
            f"script' src='data:image/png;base64,{img}'></body></html>\n")
