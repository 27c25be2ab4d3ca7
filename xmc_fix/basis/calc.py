"""``xmc basis calc``: the offline check a trader runs before trusting the engine.

Given a pair and prices for its legs (one price, or bid/ask), it prints the pair's conversion step
by step, the basis (each way when bid/ask are given), and the lots per leg that align a quantity,
with the residual — computed by the very code the engine uses (:class:`PairPricer`, :func:`align`),
so what it shows is what the engine would decide on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from xmc_fix.basis.alignment import align
from xmc_fix.basis.pricing import PairPricer
from xmc_fix.basis.signal import decide
from xmc_fix.config import Strategy
from xmc_fix.errors import ConfigError

ZERO = Decimal(0)


@dataclass(frozen=True)
class Quote2:
    bid: Decimal
    ask: Decimal


def parse_price(text: str) -> tuple[str, Quote2]:
    """``VENUE=PX`` or ``VENUE=BID/ASK``."""
    venue, sep, px = text.partition("=")
    if not sep or not venue:
        raise ConfigError(f"{text!r}: expected VENUE=PRICE or VENUE=BID/ASK", key="--price")
    try:
        if "/" in px:
            b, a = px.split("/", 1)
            q = Quote2(Decimal(b), Decimal(a))
        else:
            q = Quote2(Decimal(px), Decimal(px))
    except Exception:
        raise ConfigError(f"{text!r}: {px!r} is not a price", key="--price") from None
    if q.bid > q.ask:
        raise ConfigError(f"{text!r}: bid above ask", key="--price")
    return venue, q


def calc(strategy: Strategy, pair: str, prices: dict[str, Quote2], fx: Decimal | None = None,
         qty: Decimal | None = None, position: Decimal = ZERO) -> dict:
    """The pair's conversion, basis each way, the signal the engine's rule gives for a basis
    position of ``position`` (inner unit, long positive) and the aligned lots."""
    if pair not in strategy.pairs:
        raise ConfigError(f"unknown pair {pair!r}", file=strategy.path, key="--pair",
                          remedy=f"use one of {', '.join(strategy.pairs)}")
    pc = strategy.pairs[pair]
    inner, outer = strategy.instruments[pc.inner], strategy.instruments[pc.outer]
    src = strategy.fx.get(pc.fx) if pc.fx else None
    pricer = PairPricer(pc, inner, outer, src)
    for inst in (inner, outer):
        if inst.venue not in prices:
            raise ConfigError(f"no price for {inst.venue} ({inst.name})", key="--price",
                              remedy=f"add --price {inst.venue}=PRICE or {inst.venue}=BID/ASK")
    if pricer.needs_fx and fx is None:
        if src is not None and src.rate is not None:
            fx = src.rate
        elif src is not None and src.venue in prices:
            q = prices[src.venue]
            fx = (q.bid + q.ask) / 2
        else:
            raise ConfigError(f"the pair converts {outer.currency} to {inner.currency}: give --fx RATE "
                              f"({src.base}/{src.quote} if configured)" if src else "give --fx RATE", key="--fx")
    i, o = prices[inner.venue], prices[outer.venue]
    one = i.bid == i.ask and o.bid == o.ask
    ways = {}
    for name, ipx, opx in (("sell", i.bid, o.ask), ("buy", i.ask, o.bid)):
        conv = pricer.convert(opx, fx)
        ways[name] = {"inner_px": ipx, "outer_px": opx, "outer_converted": conv, "basis": pricer.basis(ipx, opx, fx)}
    sig = decide(ways["sell"]["basis"], ways["buy"]["basis"], position, pc)
    target = qty if qty is not None else pc.ticket_qty
    al = align(target, inner, outer, tolerance=pc.residual_tolerance, max_inner_lots=inner.max_order_qty,
               max_outer_lots=outer.max_order_qty)
    steps = [f"{outer.unit} -> {inner.unit}: x {pricer.unit_factor.quantize(Decimal('0.000001')).normalize():f}"]
    if pricer.needs_fx:
        steps.append(f"{outer.currency} -> {inner.currency}: {'x' if pricer.fx_mode == 1 else '/'} {fx}")
    steps.append(f"tax factor x {pc.tax_factor}")
    if pc.cost_per_unit:
        steps.append(f"cost + {pc.cost_per_unit} {inner.currency}/{inner.unit}")
    return {
        "pair": pair, "formula": pc.formula, "inputs": {k: str(v) for k, v in pc.inputs.items()},
        "inner": {"instrument": inner.name, "venue": inner.venue, "currency": inner.currency, "unit": inner.unit,
                  "bid": str(i.bid), "ask": str(i.ask)},
        "outer": {"instrument": outer.name, "venue": outer.venue, "currency": outer.currency, "unit": outer.unit,
                  "bid": str(o.bid), "ask": str(o.ask)},
        "fx": str(fx) if fx is not None else None, "conversion": steps,
        "basis": ({"mid": str(ways["sell"]["basis"])} if one else
                  {"sell": str(ways["sell"]["basis"]), "buy": str(ways["buy"]["basis"])}),
        "converted_outer": {k: str(v["outer_converted"]) for k, v in ways.items()} if not one
        else {"mid": str(ways["sell"]["outer_converted"])},
        "thresholds": {"entry_above": _s(pc.entry_above), "exit_above": _s(pc.exit_above),
                       "entry_below": _s(pc.entry_below), "exit_below": _s(pc.exit_below)},
        "signal": {"position": str(position), "signal": sig.describe() if sig else None},
        "quantity": {"target": str(target), "unit": inner.unit, "tolerance": str(pc.residual_tolerance),
                     "inner_lots": str(al.inner_lots) if al else None, "outer_lots": str(al.outer_lots) if al else None,
                     "inner_units": str(al.inner_units) if al else None,
                     "outer_units": str(al.outer_units.normalize()) if al else None,
                     "residual": str(al.residual.normalize()) if al else None,
                     "error_pct": str((al.error * 100).quantize(Decimal("0.001"))) if al else None,
                     "aligned": al is not None},
    }


def _s(d: Decimal | None) -> str | None:
    return str(d) if d is not None else None


def render(r: dict) -> str:
    i, o, q = r["inner"], r["outer"], r["quantity"]
    lines = [f"pair {r['pair']}  formula {r['formula']}" + (f"  inputs {r['inputs']}" if r["inputs"] else ""),
             f"  inner {i['instrument']:<10} {i['venue']:<6} bid {i['bid']:>12}  ask {i['ask']:>12}  "
             f"{i['currency']}/{i['unit']}",
             f"  outer {o['instrument']:<10} {o['venue']:<6} bid {o['bid']:>12}  ask {o['ask']:>12}  "
             f"{o['currency']}/{o['unit']}",
             "  conversion of the outer price: " + ", ".join(r["conversion"])]
    for k, v in r["converted_outer"].items():
        lines.append(f"  converted outer ({k}) = {Decimal(v):,.4f} {i['currency']}/{i['unit']}")
    for k, v in r["basis"].items():
        label = {"sell": "sell inner at bid, buy outer at ask", "buy": "buy inner at ask, sell outer at bid",
                 "mid": "at the given prices"}[k]
        lines.append(f"  basis {k:<4} = {Decimal(v):,.4f}   ({label})")
    t = r["thresholds"]
    lines.append(f"  thresholds: sell basis at >= {t['entry_above']} (back at <= {t['exit_above']}), "
                 f"buy basis at <= {t['entry_below']} (back at >= {t['exit_below']})")
    sg = r["signal"]
    lines.append(f"  signal at position {sg['position']} {i['unit']}: {sg['signal'] or 'none'} (at the best prices; "
                 f"the engine checks again at the ticket's size)")
    if q["aligned"]:
        lines.append(f"  {q['target']} {q['unit']}: {q['inner_lots']} {i['instrument']} lots ({q['inner_units']} "
                     f"{q['unit']}) against {q['outer_lots']} {o['instrument']} lots ({q['outer_units']} {q['unit']}),"
                     f" residual {q['residual']} {q['unit']} ({q['error_pct']}%), tolerance {q['tolerance']}")
    else:
        lines.append(f"  {q['target']} {q['unit']}: no lot combination within the tolerance {q['tolerance']}")
    return "\n".join(lines) + "\n"
