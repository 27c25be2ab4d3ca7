"""The audit store as pandas DataFrames, for Python users (notebooks, research, compliance).

>>> from xmc_fix.reports.api import open_run
>>> run = open_run("sqlite:///var/xmc.db")                  # the latest engine run
>>> run.slippage().groupby("venue")["slip_decision_ticks"].mean()
>>> run.shortfall()[["ticket_id", "decision_basis", "realised_basis", "shortfall_ccy"]]
>>> lme = open_run("sqlite:///var/xmc.db", "X-1a2b3c4d5e", pair="CU_SHFE_LME",
...                start="2026-01-02T01:00:00Z", end="2026-01-02T02:00:00Z")

Read-only: it opens the database once, loads the run's rows and closes it; nothing here writes.
Frames use the database's column names; times are epoch ns (``Int64``), durations microseconds
(``*_us``), prices and quantities floats (exact decimals are in the database), money in the pair's
inner currency. The figures are defined in :mod:`xmc_fix.reports.costs` and
:mod:`xmc_fix.reports.venueclock` and in the README ("Report").
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from xmc_fix.audit import models
from xmc_fix.audit.mdbatch import message_rows
from xmc_fix.audit.writer import make_engine
from xmc_fix.reports import costs
from xmc_fix.reports.figures import RunData, figures, load_run
from xmc_fix.reports.venueclock import clock_estimates, clock_samples
from xmc_fix.reports.window import ReportFilter, parse_time

__all__ = ["Run", "open_run"]


def _when(v, option: str) -> int | None:
    if v is None or isinstance(v, int):
        return v
    if isinstance(v, pd.Timestamp):
        return int(v.tz_convert("UTC").value if v.tzinfo else v.value)
    return parse_time(str(v), option)


def open_run(db_url: str, run_id: str = "latest", *, start=None, end=None, pair: str | None = None,
             strategy: str | None = None) -> "Run":
    """One run of an audit database (default: the latest engine run), optionally narrowed to the
    tickets decided in ``[start, end)`` (epoch ns, ISO-8601 text or a ``pandas.Timestamp``) and to one
    ``pair``, with the rule of :mod:`xmc_fix.reports.window`. ``strategy`` overrides the strategy file
    recorded with the run (contract sizes and ticks for money and tick figures)."""
    filt = ReportFilter(_when(start, "start"), _when(end, "end"), pair)
    return Run(db_url, load_run(db_url, run_id, filt, strategy_path=strategy))


class Run:
    """One run's data. Each method returns a new DataFrame (safe to modify)."""

    def __init__(self, db_url: str, data: RunData) -> None:
        self.db_url = db_url
        self.data = data

    @property
    def run_id(self) -> str:
        return self.data.run["run_id"]

    @property
    def info(self) -> dict:
        """The ``runs`` row: start and end (epoch ns), host, command, configuration files and hashes."""
        return dict(self.data.run)

    # -- stored rows -------------------------------------------------------------------------------
    def tickets(self) -> pd.DataFrame:
        """``tickets``: decision basis, threshold, prices at decision, lots, state, repair path."""
        return self.data.tickets.copy()

    def orders(self) -> pd.DataFrame:
        """``orders``: every order (ENTRY, CHASE, UNWIND) with its times, status and fills."""
        return self.data.orders.copy()

    def fills(self) -> pd.DataFrame:
        """``fills``: one row per execution, with the venue's time and ours."""
        return self.data.fills.copy()

    def transitions(self) -> pd.DataFrame:
        """``ticket_events``: every ticket state transition with its cause."""
        return self.data.transitions.copy()

    def events(self, kind: str | None = None) -> pd.DataFrame:
        """``events`` (all, or one ``kind``: denial, alert, repair_step, basis, session_down, ...)."""
        e = self.data.events
        return (e[e["kind"] == kind] if kind is not None else e).copy()

    def messages(self, raw: bool = False) -> pd.DataFrame:
        """The run's FIX messages in the window (``fix_messages`` rows and the market data stored in
        bulk, whose ``id`` is null and ``batch_id`` its batch), without ``raw`` unless asked: raw bytes
        of every message are read from the database then, market data included."""
        w = self.data.wire.drop(columns=["raw"])
        if not raw:
            return w.copy()
        m = models.fix_messages
        eng = make_engine(self.db_url)
        try:
            with eng.connect() as conn:
                rows = conn.execute(select(m.c.id, m.c.raw).where(m.c.run_id == self.run_id)).all()
                batched = {(r["batch_id"], r["ts_ns"], r["seq_num"]): r["raw"]   # market data stored in bulk
                           for r in message_rows(conn, self.run_id)}
        finally:
            eng.dispose()
        raws = {r.id: bytes(r.raw) for r in rows}
        w = w.copy()
        w["raw"] = [raws.get(int(i)) if not pd.isna(i) else batched.get((int(b), int(t), None if pd.isna(q) else int(q)))
                    for i, b, t, q in zip(w["id"], w["batch_id"], w["ts_ns"], w["seq_num"])]
        return w

    # -- analysis ------------------------------------------------------------------------------------
    def latency(self) -> pd.DataFrame:
        """Per order: decision to send, send to acknowledgement, to first and last fill (us)."""
        return costs.order_latency(self.data)

    def ticket_latency(self) -> pd.DataFrame:
        """Per ticket: decision to send, send to both legs acknowledged, to last entry fill, to end (us)."""
        return costs.ticket_latency(self.data)

    def slippage(self) -> pd.DataFrame:
        """Per filled entry or chase order: against the decision price and the touch at send."""
        return costs.slippage(self.data, self.data.conversions)

    def legging(self) -> pd.DataFrame:
        """Per ticket whose legs both filled: the lagging leg, its lag and its move since the decision."""
        return costs.legging(self.data, self.data.conversions)

    def shortfall(self) -> pd.DataFrame:
        """Per ticket: implementation shortfall (execution, unwind, fees) against the decision."""
        return costs.shortfall(self.data, self.data.conversions)

    def basis(self) -> pd.DataFrame:
        """The engine's basis samples per pair (sell, buy, position, state, cumulative signals)."""
        return costs.basis_samples(self.data)

    def capture(self) -> pd.DataFrame:
        """Per pair: signals, denials, tickets, completed and the capture rate."""
        return costs.capture(self.data)

    def clock_samples(self) -> pd.DataFrame:
        """Each round trip (order or TestRequest) with its NTP delay and offset (us)."""
        return clock_samples(self.data.wire)

    def clock(self) -> pd.DataFrame:
        """Per venue: clock offset estimate and error bound, round trip, one-way latencies (us)."""
        return clock_estimates(self.data.wire)

    def figures(self) -> dict:
        """The report's JSON document (``xmc report --format json``) as a dict."""
        return figures(self.data)
