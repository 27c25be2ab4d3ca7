"""Cost and latency analysis of a run, as pandas DataFrames (one row per order, fill-bearing order
or ticket). Every function takes a :class:`~xmc_fix.reports.figures.RunData` (already filtered) and
where money is involved the run's :class:`~xmc_fix.reports.conversions.Conversions`.

Sign convention: a cost is positive when it went against us (a buy filled above the reference, a
sell below it). Money is in the pair's inner currency (see :mod:`~xmc_fix.reports.conversions`).
Times are epoch ns; durations are microseconds (``*_us``).

Definitions (the README "Report" section repeats them):

- ``decision_to_send_us``: from entry of the market-data callback that decided the ticket
  (``tickets.md_recv_ns``) to the order handed to QuickFIX (``orders.sent_ns``); per ticket, to its
  last entry order.
- ``send_to_ack_us``: to the first execution report of the order (``orders.ack_ns``).
- ``send_to_first_fill_us`` / ``send_to_last_fill_us``: to our receipt of its first / last fill.
- slippage, per entry or chase order that filled: its average fill price against the leg's price
  at the decision (the volume-weighted executable price the basis was computed from), and against
  the touch at send (the leg's best bid for a sell, best ask for a buy, as recorded with the
  decision microseconds before the orders left; chase orders have no touch recorded).
- legging cost, per ticket whose two legs both filled: the lagging leg (the one whose first fill
  came second) priced at its average entry-side fill (entry and chase orders) against its price at
  the decision, over its filled lots. The engine does not record the lagging leg's book at the
  leading leg's first fill, so the move is measured from the decision.
- implementation shortfall, per ticket that sent orders: the paper trade at the decision prices
  against what happened, leg by leg: ``execution`` = adverse move of the leg's average entry-side
  fill from its decision price x its net filled lots (for a spread pair with matched legs this is
  ``(decision basis - realised basis) x quantity``, signed by direction); ``unwind`` = round trip of
  the lots unwound (entry-side average against unwind average); ``fees`` = 0 (there are no fee
  settings yet; the column is there so totals keep their meaning when there are). Unfilled
  quantity carries no opportunity cost here.
- capture rate, per pair: captured crossings over crossings. A crossing (``signals``) is an episode:
  it begins when the executable basis at ticket size crosses a threshold and ends when it no longer
  does, counted the same way whether a ticket could start, was working, or the pair was halted;
  ``denials`` are the crossings the gate refused at least once, ``captured`` those in which a ticket
  decided during it completed (cumulative counters in the ``basis`` samples, differenced over the
  window). Runs recorded before the engine counted ``captured`` fall back to completed tickets over
  signals (then signals were counted per market-data update, not per crossing).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from xmc_fix.reports.conversions import INNER, NAN, OUTER, Conversions

LEGS = (INNER, OUTER)
ENTRY_SIDE_ROLES = ("ENTRY", "CHASE")
SIDE_SIGN = {"BUY": 1.0, "SELL": -1.0}
DIRECTION_SIGN = {"SELL_BASIS": 1.0, "BUY_BASIS": -1.0}   # + : a higher realised basis is better


def _us(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    """(later - earlier) in microseconds, exact in integers first (epoch ns do not fit a float)."""
    d = pd.array(later, dtype="Int64") - pd.array(earlier, dtype="Int64")
    return d.to_numpy(dtype="float64", na_value=np.nan) / 1000.0


def _decision(text) -> dict:
    if not isinstance(text, str) or not text:
        return {}
    try:
        d = json.loads(text)
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def _touch(decision: dict, leg: str, side: str) -> float:
    """The touch at send: best bid for a sell, best ask for a buy, from the decision's book tops."""
    book = decision.get("inner_book" if leg == INNER else "outer_book")
    if not isinstance(book, list) or len(book) != 2:
        return NAN
    level = book[1] if side == "BUY" else book[0]
    try:
        return float(level[0]) if level else NAN
    except (TypeError, ValueError, IndexError):
        return NAN


def _fill_times(fills: pd.DataFrame) -> pd.DataFrame:
    if fills.empty:
        return pd.DataFrame(columns=["first_fill_ns", "last_fill_ns", "fills"],
                            index=pd.Index([], dtype=object, name="cl_ord_id"))
    g = fills.groupby("cl_ord_id")["recv_ns"]
    return pd.DataFrame({"first_fill_ns": g.min(), "last_fill_ns": g.max(), "fills": g.size()})


# -- latency -------------------------------------------------------------------------------------
def order_latency(data) -> pd.DataFrame:
    """One row per order sent (all roles): its times and latencies."""
    o, t = data.orders, data.tickets
    cols = ["ticket_id", "pair", "cl_ord_id", "leg", "role", "venue", "side", "status", "qty", "cum_qty",
            "md_recv_ns", "sent_ns", "ack_ns", "first_fill_ns", "last_fill_ns", "done_ns", "fills",
            "decision_to_send_us", "send_to_ack_us", "send_to_first_fill_us", "send_to_last_fill_us"]
    if o.empty:
        return pd.DataFrame(columns=cols)
    df = o.merge(t[["ticket_id", "pair", "md_recv_ns"]], on="ticket_id", how="left")
    df = df.merge(_fill_times(data.fills), left_on="cl_ord_id", right_index=True, how="left")
    df = df[df["sent_ns"].notna()].copy()
    df["fills"] = df["fills"].fillna(0).astype(int)
    for c in ("first_fill_ns", "last_fill_ns", "md_recv_ns"):
        df[c] = pd.array(df[c], dtype="Int64")
    df["decision_to_send_us"] = np.where(df["role"] == "ENTRY", _us(df["sent_ns"], df["md_recv_ns"]), NAN)
    df["send_to_ack_us"] = _us(df["ack_ns"], df["sent_ns"])
    df["send_to_first_fill_us"] = _us(df["first_fill_ns"], df["sent_ns"])
    df["send_to_last_fill_us"] = _us(df["last_fill_ns"], df["sent_ns"])
    return df[cols].sort_values(["sent_ns", "cl_ord_id"]).reset_index(drop=True)


def ticket_latency(data) -> pd.DataFrame:
    """One row per ticket that sent orders: decision to send (last entry order), first entry send to
    the last entry leg's acknowledgement and to the last entry fill, decision to the ticket's end."""
    t = data.tickets
    cols = ["ticket_id", "pair", "state", "md_recv_ns", "first_send_ns", "sent_ns", "ended_ns",
            "decision_to_send_us", "send_to_ack_us", "send_to_last_fill_us", "decision_to_end_us"]
    if t.empty:
        return pd.DataFrame(columns=cols)
    ol = order_latency(data)
    entry = ol[ol["role"] == "ENTRY"]
    if entry.empty:
        agg = pd.DataFrame(columns=["first_send_ns", "last_ack_ns", "last_fill_ns"],
                           index=pd.Index([], dtype=object, name="ticket_id"))
    else:
        g = entry.groupby("ticket_id")
        agg = pd.DataFrame({"first_send_ns": g["sent_ns"].min(),
                            # every entry leg acknowledged: the latest first report
                            "last_ack_ns": g["ack_ns"].max(),
                            "last_fill_ns": g["last_fill_ns"].max()})
    df = t[t["sent_ns"].notna()].merge(agg, left_on="ticket_id", right_index=True, how="left")
    for c in ("first_send_ns", "last_ack_ns", "last_fill_ns"):
        df[c] = pd.array(df[c], dtype="Int64")
    df["decision_to_send_us"] = _us(df["sent_ns"], df["md_recv_ns"])
    df["send_to_ack_us"] = _us(df["last_ack_ns"], df["first_send_ns"])
    df["send_to_last_fill_us"] = _us(df["last_fill_ns"], df["first_send_ns"])
    df["decision_to_end_us"] = _us(df["ended_ns"], df["md_recv_ns"])
    return df[cols].sort_values("md_recv_ns").reset_index(drop=True)


# -- slippage ------------------------------------------------------------------------------------
def slippage(data, conv: Conversions) -> pd.DataFrame:
    """One row per entry or chase order that filled: its average price against the decision price
    and against the touch at send, in price units, ticks, inner currency per unit and in total."""
    cols = ["ticket_id", "pair", "cl_ord_id", "leg", "role", "venue", "side", "lots", "avg_px", "limit_px",
            "decision_px", "touch_px", "tick", "slip_decision_px", "slip_decision_ticks", "slip_decision_per_unit",
            "slip_decision_ccy", "slip_touch_px", "slip_touch_ticks", "slip_touch_per_unit", "slip_touch_ccy"]
    o, t = data.orders, data.tickets
    if o.empty or t.empty:
        return pd.DataFrame(columns=cols)
    tickets = {r["ticket_id"]: r for r in t.to_dict("records")}
    rows = []
    for r in o[o["role"].isin(ENTRY_SIDE_ROLES)].to_dict("records"):
        lots = r["cum_qty"]
        tk = tickets.get(r["ticket_id"])
        if tk is None or not lots or lots <= 0 or r["avg_px"] is None or math.isnan(r["avg_px"]):
            continue
        pc = conv.for_pair(tk["pair"])
        leg, side = r["leg"], r["side"]
        s = SIDE_SIGN.get(side, NAN)
        decision_px = tk["inner_px"] if leg == INNER else tk["outer_px"]
        decision_px = NAN if decision_px is None else float(decision_px)
        touch = _touch(_decision(tk.get("decision")), leg, side) if r["role"] == "ENTRY" else NAN
        tick = pc.tick(leg)
        d_px = s * (r["avg_px"] - decision_px)
        t_px = s * (r["avg_px"] - touch)
        rows.append({
            "ticket_id": r["ticket_id"], "pair": tk["pair"], "cl_ord_id": r["cl_ord_id"], "leg": leg,
            "role": r["role"], "venue": r["venue"], "side": side, "lots": lots, "avg_px": r["avg_px"],
            "limit_px": r["price"], "decision_px": decision_px, "touch_px": touch, "tick": tick,
            "slip_decision_px": d_px, "slip_decision_ticks": d_px / tick,
            "slip_decision_per_unit": pc.per_unit(leg, d_px, tk), "slip_decision_ccy": pc.money(leg, d_px, lots, tk),
            "slip_touch_px": t_px, "slip_touch_ticks": t_px / tick,
            "slip_touch_per_unit": pc.per_unit(leg, t_px, tk), "slip_touch_ccy": pc.money(leg, t_px, lots, tk)})
    return pd.DataFrame(rows, columns=cols).astype({c: "float64" for c in cols[7:]})


# -- per-leg fills of a ticket ------------------------------------------------------------------
def _legs(data) -> dict[str, dict[str, dict]]:
    """ticket -> leg -> entry-side and unwind lots and average prices, side, first/last fill times."""
    o, f = data.orders, data.fills
    out: dict[str, dict[str, dict]] = {}
    if o.empty:
        return out
    times = _fill_times(f)
    for r in o.to_dict("records"):
        leg = out.setdefault(r["ticket_id"], {}).setdefault(r["leg"], {
            "side": None, "qE": 0.0, "nE": 0.0, "qU": 0.0, "nU": 0.0, "first_fill_ns": None, "last_fill_ns": None,
            "venue": r["venue"]})
        q = r["cum_qty"] or 0.0
        px = r["avg_px"] if r["avg_px"] is not None and not math.isnan(r["avg_px"]) else None
        if r["role"] == "ENTRY" and leg["side"] is None:
            leg["side"] = r["side"]
        if q > 0 and px is not None:
            if r["role"] in ENTRY_SIDE_ROLES:
                leg["qE"] += q
                leg["nE"] += q * px
                if r["cl_ord_id"] in times.index:
                    ft, lt = times.at[r["cl_ord_id"], "first_fill_ns"], times.at[r["cl_ord_id"], "last_fill_ns"]
                    leg["first_fill_ns"] = ft if leg["first_fill_ns"] is None else min(leg["first_fill_ns"], ft)
                    leg["last_fill_ns"] = lt if leg["last_fill_ns"] is None else max(leg["last_fill_ns"], lt)
            elif r["role"] == "UNWIND":
                leg["qU"] += q
                leg["nU"] += q * px
    for legs in out.values():
        for leg in legs.values():
            leg["vwapE"] = leg["nE"] / leg["qE"] if leg["qE"] else NAN
            leg["vwapU"] = leg["nU"] / leg["qU"] if leg["qU"] else NAN
    return out


def legging(data, conv: Conversions) -> pd.DataFrame:
    """One row per ticket whose two legs both filled on the entry side: which leg lagged, by how long,
    and what its price move since the decision cost."""
    cols = ["ticket_id", "pair", "state", "lead_leg", "lag_leg", "lag_venue", "lead_first_fill_ns",
            "lag_last_fill_ns", "lag_us", "lag_lots", "lag_decision_px", "lag_avg_px", "cost_px", "cost_ticks",
            "cost_per_unit", "cost_ccy"]
    t = data.tickets
    if t.empty:
        return pd.DataFrame(columns=cols)
    legs = _legs(data)
    rows = []
    for tk in t.to_dict("records"):
        lg = legs.get(tk["ticket_id"], {})
        if not all(lg.get(x, {}).get("qE", 0) > 0 and lg[x]["first_fill_ns"] is not None for x in LEGS):
            continue
        lead = min(LEGS, key=lambda x: (lg[x]["first_fill_ns"], x != INNER))
        lag = OUTER if lead == INNER else INNER
        L = lg[lag]
        pc = conv.for_pair(tk["pair"])
        d_px = tk["inner_px"] if lag == INNER else tk["outer_px"]
        d_px = NAN if d_px is None else float(d_px)
        cost = SIDE_SIGN.get(L["side"], NAN) * (L["vwapE"] - d_px)
        rows.append({"ticket_id": tk["ticket_id"], "pair": tk["pair"], "state": tk["state"], "lead_leg": lead,
                     "lag_leg": lag, "lag_venue": L["venue"], "lead_first_fill_ns": lg[lead]["first_fill_ns"],
                     "lag_last_fill_ns": L["last_fill_ns"],
                     "lag_us": (int(L["last_fill_ns"]) - int(lg[lead]["first_fill_ns"])) / 1000.0,
                     "lag_lots": L["qE"], "lag_decision_px": d_px, "lag_avg_px": L["vwapE"], "cost_px": cost,
                     "cost_ticks": cost / pc.tick(lag), "cost_per_unit": pc.per_unit(lag, cost, tk),
                     "cost_ccy": pc.money(lag, cost, L["qE"], tk)})
    df = pd.DataFrame(rows, columns=cols)
    for c in ("lead_first_fill_ns", "lag_last_fill_ns"):
        df[c] = pd.array(df[c], dtype="Int64")
    return df


def shortfall(data, conv: Conversions) -> pd.DataFrame:
    """One row per ticket that sent orders: implementation shortfall against the decision, in parts."""
    cols = ["ticket_id", "pair", "created_ns", "direction", "intent", "state", "decision_basis", "realised_basis",
            "basis_shortfall", "inner_lots", "outer_lots", "unwound_inner_lots", "unwound_outer_lots",
            "quantity_units", "execution_ccy", "unwind_ccy", "fees_ccy", "shortfall_ccy", "shortfall_per_unit",
            "currency"]
    t = data.tickets
    if t.empty:
        return pd.DataFrame(columns=cols)
    legs = _legs(data)
    rows = []
    for tk in t[t["sent_ns"].notna()].to_dict("records"):
        pc = conv.for_pair(tk["pair"])
        lg = legs.get(tk["ticket_id"], {})
        execution = unwind = 0.0
        net = {}
        for leg in LEGS:
            L = lg.get(leg)
            if L is None or L["qE"] == 0:
                net[leg] = 0.0
                continue
            s = SIDE_SIGN.get(L["side"], NAN)
            d_px = tk["inner_px"] if leg == INNER else tk["outer_px"]
            d_px = NAN if d_px is None else float(d_px)
            net[leg] = L["qE"] - L["qU"]
            execution += pc.money(leg, s * (L["vwapE"] - d_px), net[leg], tk)
            if L["qU"]:
                unwind += pc.money(leg, s * (L["vwapE"] - L["vwapU"]), L["qU"], tk)
        both = all(net[x] > 0 for x in LEGS)
        realised = pc.basis(lg[INNER]["vwapE"], lg[OUTER]["vwapE"], tk) if both else NAN
        decision = NAN if tk["basis"] is None else float(tk["basis"])
        qty = pc.units(INNER, net[INNER])
        fees = 0.0   # no fee settings yet (README "Report": shortfall)
        total = execution + unwind + fees
        rows.append({"ticket_id": tk["ticket_id"], "pair": tk["pair"], "created_ns": tk["created_ns"],
                     "direction": tk["direction"],
                     "intent": tk["intent"], "state": tk["state"], "decision_basis": decision,
                     "realised_basis": realised,
                     "basis_shortfall": DIRECTION_SIGN.get(tk["direction"], NAN) * (decision - realised),
                     "inner_lots": net[INNER], "outer_lots": net[OUTER],
                     "unwound_inner_lots": lg.get(INNER, {}).get("qU", 0.0),
                     "unwound_outer_lots": lg.get(OUTER, {}).get("qU", 0.0),
                     "quantity_units": qty, "execution_ccy": execution, "unwind_ccy": unwind, "fees_ccy": fees,
                     "shortfall_ccy": total, "shortfall_per_unit": total / qty if qty else NAN,
                     "currency": pc.currency})
    df = pd.DataFrame(rows, columns=cols)
    df["created_ns"] = pd.array(df["created_ns"], dtype="Int64")
    return df.sort_values(["created_ns", "ticket_id"]).reset_index(drop=True)


# -- basis and capture ---------------------------------------------------------------------------
def basis_samples(data) -> pd.DataFrame:
    """The engine's periodic ``basis`` samples: per pair the executable sell/buy basis at the best
    levels, position, trading state and the cumulative signal and denial counters."""
    return _basis_rows(data.events)


def _basis_rows(e: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["ts_ns", "pair", "sell", "buy", "position", "state", "signals", "denials", "captured"]
    if e is None or e.empty:
        return pd.DataFrame(columns=cols)
    b = e[e["kind"] == "basis"]
    rows = []
    for r in b.to_dict("records"):
        d = _decision(r["detail"])
        rows.append({"ts_ns": r["ts_ns"], "pair": r["pair"],
                     "sell": float(d["sell"]) if d.get("sell") is not None else NAN,
                     "buy": float(d["buy"]) if d.get("buy") is not None else NAN,
                     "position": float(d["position"]) if d.get("position") is not None else NAN,
                     "state": d.get("state"), "signals": d.get("signals"), "denials": d.get("denials"),
                     "captured": d.get("captured")})
    df = pd.DataFrame(rows, columns=cols)
    df["ts_ns"] = pd.array(df["ts_ns"], dtype="Int64")
    return df.sort_values(["ts_ns", "pair"]).reset_index(drop=True)


def capture(data) -> pd.DataFrame:
    """Per pair: crossings and refused crossings counted in the window (cumulative counters of the
    last ``basis`` sample in it, less those of the last sample before it), crossings captured,
    tickets decided, completed, and the capture rate captured / crossings (completed / signals for
    runs without ``captured``)."""
    cols = ["pair", "signals", "denials", "captured", "tickets", "completed", "capture_rate"]
    samples = basis_samples(data)
    before = _basis_rows(data.basis_before)
    t = data.tickets
    pairs = sorted(set(samples["pair"].dropna()) | (set(t["pair"]) if not t.empty else set()))
    rows = []
    for p in pairs:
        s = samples[samples["pair"] == p]
        b = before[before["pair"] == p]
        sig = den = cap = None
        if not s.empty:
            last = s.iloc[-1]
            base = b.iloc[-1] if not b.empty else None
            sig = int(last["signals"] or 0) - (int(base["signals"] or 0) if base is not None else 0)
            den = int(last["denials"] or 0) - (int(base["denials"] or 0) if base is not None else 0)
            if last["captured"] is not None and not pd.isna(last["captured"]):
                prior = base["captured"] if base is not None else None
                cap = int(last["captured"]) - (int(prior) if prior is not None and not pd.isna(prior) else 0)
        tp = t[t["pair"] == p] if not t.empty else t
        done = int((tp["state"] == "COMPLETED").sum()) if not tp.empty else 0
        won = cap if cap is not None else done
        rows.append({"pair": p, "signals": sig, "denials": den, "captured": cap, "tickets": int(len(tp)),
                     "completed": done, "capture_rate": won / sig if sig else None})
    return pd.DataFrame(rows, columns=cols)
