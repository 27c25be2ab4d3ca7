"""What `xmc status` and `xmc watch` print: the engine's status and watch documents as text screens."""

from __future__ import annotations

import click

from xmc_fix.clock import ns_to_iso


def print_status(st: dict) -> None:
    g = st["global"]
    click.echo(f"engine {st.get('run_id', '?')}  global {g['state']}" + (f" ({g['reason']})" if g["reason"] else "")
               + f"  venues up: {', '.join(st['venues_up']) or 'none'}" + ("  [SHADOW]" if st.get("shadow") else ""))
    click.echo(f"{'pair':<16}{'state':<10}{'inner':>7}{'outer':>7}{'position':>10}{'residual':>10}"
               f"{'basis sell/buy':>22}{'realised':>12}  reason")
    for name, p in st["pairs"].items():
        basis = f"{float(p['basis_sell']):+.1f}/{float(p['basis_buy']):+.1f}" if p["basis_sell"] and p["basis_buy"] else "-"
        click.echo(f"{name:<16}{p['state']:<10}{p['inner_lots']:>7}{p['outer_lots']:>7}"
                   f"{float(p['position_units']):>10g}{float(p['residual_units']):>10g}{basis:>22}"
                   f"{float(p['realised']):>12.0f}  {_release(p)}{p['reason']}")
    if st["open_tickets"]:
        click.echo("open tickets:")
        for t in st["open_tickets"]:
            click.echo(f"  {t['ticket_id']:<22}{t['pair']:<16}{t['state']:<11}{t['age_ms']:>9.0f} ms  "
                       f"{' > '.join(t['repairs'])}")
    for h in st.get("still_held") or ():
        why = "; ".join(f"{x.get('scope', 'pair')} {x['level']} {'(sticky)' if x['sticky'] else '(automatic)'}: "
                        f"{x['reason']}" for x in h["holds"])
        click.echo(f"{h['pair']} stays {h['state']}: {why}"
                   + (f"  (to clear its own holds: {h['resume']})" if h.get("resume") else ""))
    if st["alerts"]:
        click.echo("recent alerts:")
        for a in st["alerts"][-10:]:
            click.echo(f"  {ns_to_iso(a['ts_ns'])[11:23]} {a['severity']:<8} {a['kind']:<18} {a['message']}"
                       + (f" -> {a['action']}" if a.get("action") else ""))


def _release(p: dict) -> str:
    """A pair's gray release, when it is not plain live at full size (README "Gray release")."""
    if p.get("mode") == "shadow":
        return f"[shadow: {p.get('shadow_tickets', 0)} shadow tickets, paper position {p.get('paper_position_units')}] "
    if p.get("live_max_qty") is not None:
        return f"[live, capped at {p['ticket_qty']}] "
    return ""


def render_watch(w: dict) -> str:
    from decimal import Decimal as _D
    out = [f"xmc watch   global {w['global']['state']}   venues up: {', '.join(w['venues_up']) or 'none'}", ""]
    for name, p in w["pairs"].items():
        out.append(f"{name}  {p['state']}" + (" [SHADOW]" if p.get("mode") == "shadow" else "")
                   + (f" ({p['reason']})" if p["reason"] else "") +
                   f"   position {p['position_units']} {p['unit']}   residual {p['residual_units']}"
                   + (f"   ticket {p['active_ticket']}" if p["active_ticket"] else ""))
        mk = "   ".join(f"{m['venue']}: {'open' if m['open'] else 'CLOSED'} ({m['reason']})" for m in p["markets"])
        out.append(f"  markets  {mk}")
        i, o = p["inner"], p["outer"]
        age = lambda a: f"{a:,.0f} ms" if a is not None else "-"  # noqa: E731
        out.append(f"  {i['venue'] + ' ' + i['symbol']:<28}age {age(i['age_ms']):<10}  "
                   f"{o['venue'] + ' ' + o['symbol']:<28}age {age(o['age_ms'])}")
        for k in range(max(len(i["bids"]), len(i["asks"]), len(o["bids"]), len(o["asks"]), 1)):
            def cell(levels):
                return f"{levels[k][1]:>6} @ {levels[k][0]:<10}" if k < len(levels) else " " * 19
            out.append(f"  {cell(i['bids'])} | {cell(i['asks'])}    {cell(o['bids'])} | {cell(o['asks'])}")
        fx = p["fx"]
        out.append(f"  FX {fx['rate'] or '-'} (age {age(fx['age_ms'])})   lots {p['lots'][0]} / {p['lots'][1]}")
        for d, q in p["executable"].items():
            out.append(f"  {d:<11} basis {float(_D(q['basis'])):+12,.2f}  size {q['size_inner']} / {q['size_outer']} lots")
        t = p["thresholds"]
        out.append(f"  thresholds: sell >= {t['entry_above']} (exit <= {t['exit_above']})   "
                   f"buy <= {t['entry_below']} (exit >= {t['exit_below']})   signal: {p['signal'] or '-'}")
        out.append("")
    if w["open_tickets"]:
        out.append("open tickets: " + "  ".join(f"{t['ticket_id']} {t['state']}" for t in w["open_tickets"]))
    for a in w["alerts"][-5:]:
        out.append(f"alert {a['severity']:<8} {a['kind']:<16} {a['message']}")
    return "\n".join(out) + "\n"


def render_reconcile(started: list[dict], results: dict[str, dict], in_progress: list[str]) -> str:
    """``xmc reconcile``: what each venue was asked, then the engine's and the venue's views side by side."""
    lines = []
    for st in started:
        if st.get("state") != "asked":
            lines.append(f"{st['venue']}: {st['state']}")
    for venue, r in sorted(results.items()):
        verdict = ("INCOMPLETE: " + r["incomplete"]) if r["incomplete"] else \
            (f"{len(r['differences'])} difference(s)" if r["differences"] else "agrees")
        lines.append(f"{venue}: {verdict}  (orders {'compared' if r['orders_compared'] else 'not compared'}, "
                     f"positions {'compared' if r['positions_compared'] else 'not compared'})")
        if r["positions_compared"]:
            lines.append(f"  {'symbol':<10}{'engine':>10}{'venue':>10}")
            for sym in sorted(set(r["engine_positions"]) | set(r["venue_positions"])):
                lines.append(f"  {sym:<10}{r['engine_positions'].get(sym, '0'):>10}{r['venue_positions'].get(sym, '0'):>10}")
        if r["orders_compared"]:
            lines.append(f"  working at the venue: {', '.join(r['venue_working']) or 'none'}")
        for d in r["differences"]:
            lines.append(f"  DIFFERENCE {d['what']} -> {d['resolution']}")
    for v in in_progress:
        lines.append(f"{v}: no answer yet")
    return "\n".join(lines)
