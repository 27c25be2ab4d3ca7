"""The HTML report: one self-contained file (plots embedded as PNG data URIs, CSS inline, no
JavaScript, nothing fetched), readable offline and attachable to an e-mail or an audit file.

Contents: the acceptance table first, the headline figures, then the plots — latency histograms per
venue, the slippage distribution, implementation shortfall per ticket, the basis over time with
entries, exits and repairs marked — and the tables behind them. Plots are drawn with matplotlib's
Agg backend (no display needed). This module renders; it computes nothing the JSON document does
not have, except what the plots draw from the run's frames.
"""

from __future__ import annotations

import base64
import html
import io
import json

import matplotlib

matplotlib.use("Agg")   # before pyplot: no display, no GUI toolkit

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import pandas as pd  # noqa: E402

from xmc_fix.reports import costs  # noqa: E402
from xmc_fix.reports.conversions import load_conversions  # noqa: E402

MAX_TICKET_ROWS = 500
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
tr.met td.verdict { background: #dff3df; } tr.notmet td.verdict { background: #f8d7d7; font-weight: bold; }
tr.unmeasured td.verdict { background: #eee; color: #555; }
.meta { color: #555; font-size: 0.9em; } .note { color: #555; font-size: 0.85em; max-width: 60em; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.85em; max-width: 60em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
"""


def _e(v) -> str:
    return html.escape("" if v is None else str(v))


def _n(v, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:
            return "-"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.{digits}f}" if abs(v) >= 1 or v == 0 else f"{v:.3g}"
    return _e(v)


def _table(header: list[str], rows: list[list], left: int | set = 1, row_class: list[str] | None = None) -> str:
    """An HTML table; columns before ``left`` (or in it, a set of indexes) are text, aligned left."""
    is_left = (lambda i: i in left) if isinstance(left, set) else (lambda i: i < left)
    out = ["<table><thead><tr>"]
    out += [f'<th class="l">{_e(h)}</th>' if is_left(i) else f"<th>{_e(h)}</th>" for i, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for k, row in enumerate(rows):
        cls = f' class="{row_class[k]}"' if row_class else ""
        out.append(f"<tr{cls}>")
        for i, v in enumerate(row):
            text = v if isinstance(v, _Raw) else _n(v)
            out.append(f'<td class="l">{text}</td>' if is_left(i) else f"<td>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


class _Raw(str):
    """Cell text already escaped."""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(uri: str, alt: str, caption: str) -> str:
    return f'<figure><img src="{uri}" alt="{_e(alt)}"><figcaption>{_e(caption)}</figcaption></figure>'


def _empty_plot(title: str, text: str):
    fig, ax = plt.subplots(figsize=(9, 1.6))
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555")
    ax.set_axis_off()
    return fig


def _times(ns) -> list:
    return [pd.Timestamp(int(x), unit="ns", tz="UTC").tz_localize(None) for x in ns]


# -- plots ---------------------------------------------------------------------------------------
def plot_latency(ol: pd.DataFrame, tl: pd.DataFrame):
    """Per venue: histograms of send -> acknowledgement and send -> first fill (ms), and one of
    decision -> send per ticket (us)."""
    venues = sorted(ol["venue"].dropna().unique()) if not ol.empty else []
    if not venues:
        return _empty_plot("Order latency per venue", "no order was sent in this report's window")
    fig, axes = plt.subplots(len(venues) + 1, 2, figsize=(10, 2.5 * (len(venues) + 1)), squeeze=False)
    for i, v in enumerate(venues):
        g = ol[ol["venue"] == v]
        for j, (col, label) in enumerate((("send_to_ack_us", "send \u2192 acknowledgement"),
                                          ("send_to_first_fill_us", "send \u2192 first fill"))):
            ax = axes[i][j]
            x = g[col].dropna() / 1000.0
            if x.empty:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#555")
            else:
                ax.hist(x, bins=min(40, max(5, len(x) // 2)), color=COLOURS[i % len(COLOURS)], edgecolor="white")
                ax.axvline(x.median(), color="black", linestyle="--", linewidth=1, label=f"median {x.median():.2f} ms")
                ax.legend(fontsize=8, loc="upper right")
            ax.set_title(f"{v}: {label} (n={len(x)})", fontsize=10)
            ax.set_xlabel("milliseconds")
            ax.set_ylabel("orders")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax = axes[-1][0]
    x = tl["decision_to_send_us"].dropna() if not tl.empty else pd.Series(dtype=float)
    if x.empty:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#555")
    else:
        ax.hist(x, bins=min(40, max(5, len(x) // 2)), color="#555", edgecolor="white")
        ax.axvline(x.median(), color="black", linestyle="--", linewidth=1, label=f"median {x.median():.0f} \u00b5s")
        ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"all venues: decision \u2192 last entry order sent, per ticket (n={len(x)})", fontsize=10)
    ax.set_xlabel("microseconds")
    ax.set_ylabel("tickets")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax = axes[-1][1]
    x = tl["send_to_last_fill_us"].dropna() / 1000.0 if not tl.empty else pd.Series(dtype=float)
    if x.empty:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#555")
    else:
        ax.hist(x, bins=min(40, max(5, len(x) // 2)), color="#555", edgecolor="white")
    ax.set_title(f"all venues: first entry send \u2192 last entry fill, per ticket (n={len(x)})", fontsize=10)
    ax.set_xlabel("milliseconds")
    ax.set_ylabel("tickets")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("Order latency", fontsize=13)
    fig.tight_layout()
    return fig


def plot_slippage(sl: pd.DataFrame, currency: str | None):
    """Distribution of entry-order slippage against the decision price and against the touch at
    send, per venue (ticks; inner currency per unit when ticks are unknown)."""
    e = sl[sl["role"] == "ENTRY"] if not sl.empty else sl
    if e.empty:
        return _empty_plot("Slippage of entry orders", "no entry order filled in this report's window")
    use_ticks = e["slip_decision_ticks"].notna().any()
    suffix, unit = ("ticks", "ticks") if use_ticks else ("per_unit", f"{currency or 'inner currency'} per unit")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, ref, title in ((axes[0], "decision", "against the decision price"),
                           (axes[1], "touch", "against the touch at send")):
        col = f"slip_{ref}_{suffix}"
        data, labels, colours = [], [], []
        for i, (v, g) in enumerate(e.groupby("venue")):
            x = g[col].dropna()
            if not x.empty:
                data.append(x.to_numpy())
                labels.append(f"{v} (n={len(x)}, mean {x.mean():+.2f})")
                colours.append(COLOURS[i % len(COLOURS)])
        if data:
            lo = min(float(d.min()) for d in data)
            hi = max(float(d.max()) for d in data)
            bins = 20 if hi > lo else 1
            ax.hist(data, bins=bins, range=(lo - 0.5, hi + 0.5) if use_ticks else None, label=labels,
                    color=colours, stacked=True, edgecolor="white")
            ax.legend(fontsize=8)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"Slippage {title}", fontsize=10)
        ax.set_xlabel(f"{unit} (positive = against us)")
    axes[0].set_ylabel("entry orders")
    axes[0].yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def plot_shortfall(sf: pd.DataFrame, currency: str | None):
    """Implementation shortfall per ticket, split into execution and unwind (inner currency)."""
    if sf.empty:
        return _empty_plot("Implementation shortfall per ticket", "no ticket sent orders in this report's window")
    use_money = sf["shortfall_ccy"].notna().any()
    fig, ax = plt.subplots(figsize=(10, 3.4))
    x = range(len(sf))
    if use_money:
        # side by side, not stacked: the parts can have opposite signs
        ax.bar([i - 0.2 for i in x], sf["execution_ccy"].fillna(0), width=0.4, color="#1f77b4",
               label="execution (vs decision prices)")
        ax.bar([i + 0.2 for i in x], sf["unwind_ccy"].fillna(0), width=0.4, color="#d62728", label="unwind round trip")
        ax.scatter(list(x), sf["shortfall_ccy"], marker="D", s=18, color="black", zorder=3, label="total")
        ax.set_ylabel(f"{currency or 'inner currency'} (positive = cost)")
    else:
        ax.bar(x, sf["basis_shortfall"].fillna(0), color="#1f77b4", label="decision - realised basis")
        ax.set_ylabel("basis units (positive = cost)")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("ticket, in decision order")
    step = max(1, len(sf) // 25)
    ax.set_xticks(list(x)[::step])
    ax.set_xticklabels([str(t)[-6:] for t in sf["ticket_id"]][::step], rotation=60, fontsize=7)
    ax.set_title("Implementation shortfall per ticket (fees: 0, no fee settings yet)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_basis(samples: pd.DataFrame, tickets: pd.DataFrame, events: pd.DataFrame, conv):
    """Per pair: the executable basis over time (sell = inner bid vs outer ask; buy = inner ask vs
    outer bid) from the engine's samples, thresholds, and each ticket's entry or exit at its
    decision basis, its repair steps and failures."""
    pairs = sorted(set(samples["pair"].dropna()) | (set(tickets["pair"]) if not tickets.empty else set()))
    if not pairs:
        return _empty_plot("Basis over time", "no basis sample and no ticket in this report's window")
    fig, axes = plt.subplots(len(pairs), 1, figsize=(10, 4.4 * len(pairs)), squeeze=False)
    repairs = events[events["kind"] == "repair_step"] if not events.empty else events
    for ax, pair in zip((a[0] for a in axes), pairs):
        pc = conv.for_pair(pair)
        s = samples[samples["pair"] == pair]
        if not s.empty:
            t = _times(s["ts_ns"])
            ax.step(t, s["sell"], where="post", color="#1f77b4", linewidth=1, label="sell basis (inner bid \u2212 outer ask)")
            ax.step(t, s["buy"], where="post", color="#ff7f0e", linewidth=1, label="buy basis (inner ask \u2212 outer bid)")
        for name, value in pc.thresholds.items():
            ax.axhline(value, color="#888", linestyle=":" if name.startswith("exit") else "--", linewidth=0.9)
            ax.annotate(name, xy=(1.0, value), xycoords=("axes fraction", "data"), fontsize=7, color="#666",
                        xytext=(2, 0), textcoords="offset points", va="center")
        tk = tickets[tickets["pair"] == pair] if not tickets.empty else tickets
        for intent, marker, colour, label in (("OPEN", "^", "#2ca02c", "entry (decision basis)"),
                                              ("CLOSE", "v", "#9467bd", "exit (decision basis)")):
            g = tk[tk["intent"] == intent] if not tk.empty else tk
            if not g.empty:
                ax.scatter(_times(g["created_ns"]), g["basis"], marker=marker, s=46, color=colour, zorder=3,
                           edgecolor="black", linewidth=0.5, label=f"{label} ({len(g)})")
        if not tk.empty:
            bad = tk[tk["state"].isin(("FAILED", "LEGGED"))]
            if not bad.empty:
                ax.scatter(_times(bad["created_ns"]), bad["basis"], marker="X", s=90, color="black", zorder=4,
                           label=f"failed / still legged ({len(bad)})")
            r = repairs[repairs["ticket_id"].isin(set(tk["ticket_id"]))] if not repairs.empty else repairs
            if not r.empty:
                level = tk.set_index("ticket_id")["basis"]
                ax.scatter(_times(r["ts_ns"]), [level.get(x) for x in r["ticket_id"]], marker="x", s=40,
                           color="#d62728", zorder=4, label=f"repair step ({len(r)})")
        unit = f"{pc.currency} per {pc.unit}" if pc.currency and pc.unit else "inner currency per unit"
        ax.set_title(f"{pair}: executable basis over time", fontsize=10)
        ax.set_ylabel(f"basis ({unit})")
        ax.set_xlabel("time (UTC)")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# -- the page ------------------------------------------------------------------------------------
def _acceptance(figs: dict) -> str:
    rows, classes = [], []
    for r in figs["acceptance"]:
        verdict = "not measured" if r["met"] is None else "met" if r["met"] else "NOT MET"
        classes.append("unmeasured" if r["met"] is None else "met" if r["met"] else "notmet")
        rows.append([r["claim"], _Raw(_e(r["measured"])), _Raw(f'<span>{_e(verdict)}</span>'), _Raw(_e(r["method"]))])
    t = _table(["claim", "measured", "verdict", "how"], rows, left=4, row_class=classes)
    return t.replace("<td class=\"l\"><span>", "<td class=\"l verdict\"><span>")


def render_html(figs: dict, data) -> str:
    """The self-contained HTML report of ``figs`` (from :func:`~xmc_fix.reports.figures.figures`)
    and the run ``data`` they were computed from (for the plots)."""
    conv = data.conversions if data.conversions is not None else load_conversions(data.run)
    ol, tl = costs.order_latency(data), costs.ticket_latency(data)
    sl, sf = costs.slippage(data, conv), costs.shortfall(data, conv)
    samples = costs.basis_samples(data)
    currency = figs["slippage"]["currency"]
    plots = [
        (plot_latency(ol, tl), "Order latency histograms per venue",
         "Per venue: time from handing an order to QuickFIX to the venue's first execution report, and to our "
         "receipt of its first fill (every order sent, entry and repair; dashed: median). Bottom: per ticket, "
         "decision (entry of the market-data callback) to the last entry order sent, and first entry send to the "
         "last entry fill."),
        (plot_slippage(sl, currency), "Slippage distribution",
         "Entry orders that filled: average fill price against the leg's executable price at the decision, and "
         "against the touch (best bid for a sell, best ask for a buy) recorded microseconds before sending; "
         "positive is against us."),
        (plot_shortfall(sf, currency), "Implementation shortfall per ticket",
         "Each ticket that sent orders: the legs' average entry-side fills against their decision prices over "
         "the lots kept (execution), plus the round trip of anything unwound; fees are 0 until fee settings exist."),
        (plot_basis(samples, data.tickets, data.events, conv), "Basis over time",
         "The engine's executable basis samples per pair (sell and buy side), the pair's thresholds (dashed: "
         "entry, dotted: exit), each ticket at its decision time and basis (\u25b2 entry, \u25bc exit), its repair "
         "steps (\u00d7 at the ticket's decision basis), and failed or still-legged tickets."),
    ]
    run = figs
    f = figs["filter"]
    filt = ", ".join(x for x in (f"from {f['from']}" if f["from"] else "", f"to {f['to']}" if f["to"] else "",
                                 f"pair {f['pair']}" if f["pair"] else "") if x) or "whole run, all pairs"
    conv_d = figs["conversions"]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>xmc_fix report {_e(run['run_id'])}</title>", f"<style>{CSS}</style></head><body>",
        f"<h1>xmc_fix report: run {_e(run['run_id'])}</h1>",
        f'<p class="meta">{_e(run["started"])} .. {_e(run["ended"] or "(running)")} '
        f'({_n(run["duration_s"])} s) &middot; {_e(filt)} &middot; costs in {_e(currency or "-")}, conversions from '
        f'{_e(conv_d["source"])}{": " + _e(conv_d["note"]) if conv_d["note"] else ""}</p>',
        "<h2>Acceptance</h2>", _acceptance(figs),
        '<p class="note">Each figure beside the claim it is judged against. "not measured": the run holds no '
        "record of that figure. Coverage is over the whole run whatever the filter.</p>",
        "<h2>Headline</h2>",
        _table(["figure", "value"], [
            ["tickets", figs["tickets"]], ["by state", ", ".join(f"{k} {v}" for k, v in figs["tickets_by_state"].items()) or "-"],
            ["alignment rate (no unmatched exposure left)",
             None if figs["alignment_rate"] is None else f"{100 * figs['alignment_rate']:.2f} %"],
            ["finished tickets", "matched first try {matched_first_try}, after repair {matched_after_repair}, unwound "
             "{unwound}, nothing traded {nothing_traded}, left legged {left_legged}".format(**figs["alignment"])],
            ["matched, of the tickets that traded", None if figs["alignment"]["matched_rate"] is None else
             f"{100 * figs['alignment']['matched_rate']:.2f} % of {figs['alignment']['traded']}"],
            ["repair success", None if figs["repair_success_rate"] is None else
             f"{100 * figs['repair_success_rate']:.1f} % of {figs['tickets_repaired']['legged']}"],
            ["unwind cost of repairs", None if figs["tickets_repaired"]["unwind_ccy"] is None else
             f"{figs['tickets_repaired']['unwind_ccy']:,.2f} {figs['tickets_repaired']['currency'] or ''}"],
            ["FIX messages in / out", f"{figs['messages']['in']} / {figs['messages']['out']}"],
            ["capture rate (captured / crossings)", None if figs["capture"]["rate"] is None else
             f"{100 * figs['capture']['rate']:.1f} % ({figs['capture'].get('captured', figs['capture']['completed'])}"
             f" / {figs['capture']['signals']})"],
            ["implementation shortfall", None if figs["shortfall"]["total_ccy"] is None else
             f"{figs['shortfall']['total_ccy']:,.2f} {currency or ''}"],
            ["legging cost", None if figs["legging_cost"]["total_ccy"] is None else
             f"{figs['legging_cost']['total_ccy']:,.2f} {currency or ''} over {figs['legging_cost']['tickets']} tickets"],
        ], left=2),
    ]
    for fig, alt, caption in plots:
        parts += [f"<h2>{_e(alt)}</h2>", _figure(_png(fig), alt, caption)]
    parts += _tables(figs, tl, sf)
    parts.append('<p class="note">Definitions: README "Report". Generated by xmc report --format html.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _tables(figs: dict, tl: pd.DataFrame, sf: pd.DataFrame) -> list[str]:
    out = ["<h2>Latency (microseconds)</h2>"]
    rows = []
    for venue, d in figs["latency_by_venue_us"].items():
        for name, p in d.items():
            rows.append([venue, name, p["n"], p["p50"], p["p99"], p["max"]])
    for name, p in figs["ticket_latency_us"].items():
        rows.append(["per ticket", name, p["n"], p["p50"], p["p99"], p["max"]])
    out.append(_table(["venue", "latency", "n", "p50", "p99", "max"], rows, left=2))
    s = figs["slippage"]
    rows = [[v, d["orders"], d["vs_decision_ticks"]["mean"], d["vs_decision_ticks"]["p99"], d["vs_decision_ccy"],
             d["vs_touch_ticks"]["mean"], d["vs_touch_ticks"]["p99"], d["vs_touch_ccy"]] for v, d in s["by_venue"].items()]
    out += [f"<h2>Slippage of entry orders ({_e(s['currency'] or 'inner currency')}; positive = against us)</h2>",
            _table(["venue", "orders", "mean ticks vs decision", "p99", "total vs decision", "mean ticks vs touch",
                    "p99", "total vs touch"], rows)]
    lg = figs["legging_cost"]
    out += ["<h2>Legging cost</h2>",
            _table(["tickets", "total", "mean per unit", "mean ticks", "lag p50 (\u00b5s)", "lag max (\u00b5s)", "lagging leg"],
                   [[lg["tickets"], lg["total_ccy"], lg["per_unit"]["mean"], lg["ticks"]["mean"], lg["lag_us"]["p50"],
                     lg["lag_us"]["max"], ", ".join(f"{k} {v}" for k, v in lg["lagging_leg"].items()) or "-"]], left=0)]
    sh = figs["shortfall"]
    rows = [[p, d["tickets"], d["execution_ccy"], d["unwind_ccy"], d["fees_ccy"], d["total_ccy"]]
            for p, d in sh["by_pair"].items()]
    rows.append(["all", sh["tickets"], sh["execution_ccy"], sh["unwind_ccy"], sh["fees_ccy"], sh["total_ccy"]])
    out += ["<h2>Implementation shortfall</h2>",
            _table(["pair", "tickets", "execution", "unwind", "fees", "total"], rows),
            f'<p class="note">{_e(sh["fees_note"])}.</p>']
    shown = sf.head(MAX_TICKET_ROWS)
    rows = [[r["ticket_id"], r["pair"], r["direction"], r["intent"], r["state"], r["decision_basis"],
             r["realised_basis"], r["inner_lots"], r["outer_lots"], r["execution_ccy"], r["unwind_ccy"],
             r["shortfall_ccy"]] for r in shown.to_dict("records")]
    out += ["<h2>Tickets</h2>", _table(["ticket", "pair", "direction", "intent", "state", "decision basis",
                                        "realised basis", "inner lots", "outer lots", "execution", "unwind",
                                        "shortfall"], rows, left=5)]
    if len(sf) > MAX_TICKET_ROWS:
        out.append(f'<p class="note">First {MAX_TICKET_ROWS} of {len(sf)} tickets; the JSON and the Python API have all.</p>')
    if figs.get("release"):
        rows = [[pair, "sell" if d == "SELL_BASIS" else "buy", x["shadow"]["tickets"],
                 x["shadow"]["mean_basis_at_decision"], x["live"]["tickets"], x["live"]["mean_basis_at_decision"],
                 x["live"]["traded"], x["live"]["mean_realised_basis"], x["live"]["mean_basis_shortfall"]]
                for pair, p in figs["release"].items() for d, x in p["by_direction"].items()]
        out += ["<h2>Gray release: shadow tickets against live ones</h2>",
                _table(["pair", "side", "shadow tickets", "basis at decision", "live tickets", "basis at decision",
                        "traded", "realised basis", "shortfall"], rows, left=2),
                '<p class="note">Per pair in the same window: the shadow tickets it decided while in shadow mode '
                "(nothing sent) and the live tickets it decided, with what the live ones realised (both legs' entry "
                "fills) and their shortfall against the decision (positive: worse).</p>"]
    c = figs["capture"]
    episodes = any("captured" in d for d in c["by_pair"].values())   # runs that counted crossings as episodes
    rows = [[p, d["signals"], d["denials"]] + ([d.get("captured")] if episodes else []) + [
             d["tickets"], d["completed"], None if d["rate"] is None else f"{100 * d['rate']:.1f} %"]
            for p, d in c["by_pair"].items()]
    out += ["<h2>Capture</h2>", _table(["pair", "crossings" if episodes else "signals", "refused" if episodes else
                                        "denials"] + (["captured"] if episodes else []) +
                                       ["tickets", "completed", "capture rate"], rows),
            '<p class="note">Crossings: episodes in which the executable basis at ticket size crossed a threshold '
            "(from the crossing to its end, whatever the pair's state: free, a ticket working, halted); refused: "
            "those the risk gate denied at least once; captured: those in which a ticket decided during it "
            "completed.</p>"]
    rows = [[v, d["samples"], d["offset_us"], d["offset_error_us"], d["delay_min_us"], d["delay_p50_us"],
             d["one_way_out_p50_us"], d["one_way_in_p50_us"], d["inbound_one_way_p50_us"], d["inbound_apparent_p50_us"]]
            for v, d in figs["clock"]["venues"].items()]
    out += ["<h2>Venue clocks and one-way latency (microseconds)</h2>",
            _table(["venue", "samples", "offset", "\u00b1", "round trip min", "round trip p50", "out p50", "in p50",
                    "all inbound p50", "inbound uncorrected p50"], rows),
            f'<p class="note">{_e(figs["clock"]["method"])}. Offset: venue clock minus ours; \u00b1 is half the '
            "least round trip. One-way figures are corrected by the offset; \u201cuncorrected\u201d is receipt minus "
            "the venue's SendingTime.</p>"]
    cov = figs["coverage"]
    rows = []
    for session, d in (cov.get("sessions") or {}).items():
        for direction in ("in", "out"):
            x = d.get(direction)
            if x:
                rng = x.get("range")
                rows.append([session, direction, f"{rng[0]}-{rng[1]}" if rng else "-", x.get("first_seq"),
                             x.get("last_seq"), x.get("messages"), x.get("expected"), x.get("store_compared", "-"),
                             x.get("complete") if not x.get("unchecked") else "unchecked"])
    out += ["<h2>Audit coverage</h2>",
            _table(["session", "direction", "run's range", "first seq", "last seq", "stored", "expected",
                    "compared with store", "complete"], rows, left=3),
            f'<p class="note">Method: {_e(cov.get("method"))}: {_e(cov.get("compared") or "")}. '
            f'{_e(cov.get("note") or "")}</p>']
    if figs["repairs"]:
        rows = [[r["ticket_id"], r["pair"], r["outcome"], " > ".join(r["path"]) or "-", r["repair_ms"],
                 r.get("unwind_ccy"), r["legged_because"]] for r in figs["repairs"]]
        out += ["<h2>Repaired tickets</h2>", _table(["ticket", "pair", "outcome", "path", "repair ms", "unwind cost",
                                                     "legged because"], rows, left={0, 1, 2, 3, 6})]
    out.append(f'<details><summary>JSON document</summary><pre>{_e(json.dumps(figs, indent=1, default=str))}</pre>'
               "</details>")
    return out
