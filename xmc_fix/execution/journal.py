"""The intent journal: the engine's write-ahead log on local disk.

Before any order leaves, its ticket and ClOrdID are appended here (one ``os.write`` of a JSON line
to a file opened ``O_APPEND``: a few microseconds, and in the operating system's page cache — so
it survives the engine being killed, ``kill -9`` included — before QuickFIX sees the order). When a
ticket ends, its final fills are appended too. The audit database receives the same facts
asynchronously; the journal is what the engine itself restarts from, so it never depends on the
audit writer having caught up.

Durability (``[engine] journal_sync``): ``intent`` fsyncs every line before the write returns (a
power cut loses nothing, and the orders wait for the disk); ``batch`` (the default) fsyncs from the
timer thread at most one tick after a write (the orders never wait for the disk; a power cut can
lose the last tick's lines, and the reconciliation at the next logon finds what they described at the
venues: an order or position the engine does not know is a difference, held and alerted); ``none``
leaves it to the operating system (tests, the benchmark). Every mode survives ``kill -9``.

On start the journal is replayed (:func:`replay`) into the positions each pair holds and the
tickets still open, then rewritten compactly (:meth:`Journal.compact`): open tickets and held
positions only, so the file stays small however long the engine runs.

Records (one JSON object per line, ``k`` the kind, ``t`` the wall time it was written in epoch ns):
- ``intent``: a new ticket (pair, direction, intent, lots, decision summary, bundle it closes) with
  the orders it sends first, written as one line before they leave;
- ``ticket``: a ticket without orders yet (the flatten path, and compaction). A ticket that had
  ended and was reopened carries ``applied``, its net lots at that end: the holdings (``held``)
  include them, so when it ends again only the change since is applied, after a restart as at run
  time;
- ``order``: an order about to be sent (ticket, leg, role, the full command);
- ``alias``: the ClOrdID of a cancel about to be sent for an order (``of``): a venue may answer about
  the order by that ClOrdID alone (a status answer without OrigClOrdID), after a restart too
  (compaction keeps it in the order's record, ``aliases``);
- ``end``: a ticket reached a final state, with its net lots per leg (signed: bought positive);
- ``reopen``: a late fill broke a finished ticket's match, so it is open again;
- ``held``: (compaction only) lots an opening ticket still holds, per leg;
- ``pair``: a pair's trading state changed (a FAILED repair halts it across restarts);
- ``global``: the global trading state's sticky holds changed (an operator's halt or flatten);
- ``flat``: the flatten path took a pair to zero: what it held before no longer counts;
- ``fill``: a fill booked to a pair's leg (position, cost basis, realised P&L of its trading day);
- ``foreign``: lots no pair traded (an order the engine did not send, a reconciled difference);
- ``ledger``: (compaction only) the position ledger as it stood; fills after it add to it;
- ``accounted``: (compaction only) the ExecIDs the ledger took lately (a resend never counts twice);
- ``recent``: (compaction only) a ticket finished within ``retain_finished_ms``, with its orders and
  their fills: a late fill or bust of one after the restart reopens it instead of passing for an
  order the engine did not send. Its net lots are in the ``held`` lines already: if it ends again
  later, only the change since is applied;
- ``release``: a pair's mode (``live``/``shadow``) and live size cap set on the running engine
  (``xmc set-mode``, ``xmc set-size``), with the strategy file's values at the time (``file``) and
  who; the last one per pair counts. A restart keeps it unless the file's values for the pair have
  changed since (:mod:`xmc_fix.execution.release`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _js
from pathlib import Path


def _enc(v):
    if isinstance(v, Decimal):
        return str(v)
    raise TypeError(type(v).__name__)


SYNC_MODES = ("intent", "batch", "none")


class Journal:
    def __init__(self, path: str | Path, *, sync: str = "batch") -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"journal sync {sync!r}: use one of {', '.join(SYNC_MODES)}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.sync = sync
        self._dirty = False
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, kind: str, **fields) -> None:
        fields["k"] = kind
        fields["t"] = time.time_ns()   # wall time: what the audit is completed with after a crash
        self._append(json.dumps(fields, default=_enc, separators=(",", ":")) + "\n")

    def write_json(self, kind: str, body: str) -> None:
        """Write a record whose fields are already rendered as one JSON object's text (``{...}``,
        compact, ASCII): the same line :meth:`write` makes of the same fields. The hot path's
        ``intent`` line comes this way (:func:`xmc_fix.execution.records.intent_json`)."""
        sep = "," if len(body) > 2 else ""
        self._append(f'{body[:-1]}{sep}"k":{_js(kind)},"t":{time.time_ns()}}}\n')

    def _append(self, line: str) -> None:
        os.write(self._fd, line.encode())
        if self.sync == "intent":
            os.fsync(self._fd)
        else:
            self._dirty = True

    def flush(self) -> None:
        """``batch``: make what was written durable (called from the timer thread, off the hot path)."""
        if self._dirty and self.sync == "batch" and self._fd >= 0:
            self._dirty = False
            try:
                os.fsync(self._fd)
            except OSError:
                pass        # closed under us by a compaction: the compaction fsyncs its own file

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def compact(self, state: "JournalState") -> None:
        """Rewrite the journal as the open tickets and held positions of ``state`` (atomically)."""
        tmp = self.path.with_suffix(".compact")
        with open(tmp, "w", encoding="utf-8") as f:
            if state.ledger is not None:
                f.write(json.dumps({"k": "ledger", **state.ledger}, default=_enc, separators=(",", ":")) + "\n")
            for h in state.held:
                f.write(json.dumps({"k": "held", **h}, default=_enc, separators=(",", ":")) + "\n")
            for pair, st in state.pair_states.items():
                f.write(json.dumps({"k": "pair", "pair": pair, **st}, separators=(",", ":")) + "\n")
            if state.global_state:
                f.write(json.dumps({"k": "global", **state.global_state}, separators=(",", ":")) + "\n")
            if state.accounted:
                f.write(json.dumps({"k": "accounted", "ids": sorted(state.accounted.items())},
                                   separators=(",", ":")) + "\n")
            for pair, rel in state.releases.items():
                f.write(json.dumps({"k": "release", "pair": pair, **rel}, separators=(",", ":")) + "\n")
            for ft in state.finished.values():
                f.write(json.dumps({"k": "recent", "ticket": ft.record, "orders": ft.orders, "net": ft.net,
                                    "ended_ns": ft.ended_ns}, default=_enc, separators=(",", ":")) + "\n")
            for t in state.open_tickets.values():
                f.write(json.dumps({"k": "ticket", **t.record}, default=_enc, separators=(",", ":")) + "\n")
                for o in t.orders:
                    f.write(json.dumps({"k": "order", **o}, default=_enc, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.close()
        os.replace(tmp, self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


@dataclass
class OpenTicket:
    record: dict
    orders: list[dict] = field(default_factory=list)


@dataclass
class FinishedTicket:
    """A ticket that ended (its lots are in the holdings already), kept so that a report still
    arriving for one of its orders after a restart — a late fill, a bust — finds it."""

    record: dict
    orders: list[dict]
    net: dict                       # {"INNER": lots, "OUTER": lots} when it ended
    ended_ns: int | None            # wall time of its end (None: a journal too old to say)


@dataclass
class JournalState:
    """What a replay found: lots still held per opening ticket, tickets without an end."""

    held: list[dict] = field(default_factory=list)          # {ticket_id, pair, direction, opened_ns, inner, outer}
    open_tickets: dict[str, OpenTicket] = field(default_factory=dict)
    pair_states: dict[str, dict] = field(default_factory=dict)
    global_state: dict | None = None                         # {state, reason} of the global sticky holds
    ledger: dict | None = None                               # the last ledger snapshot
    fills: list[dict] = field(default_factory=list)          # fill records after it
    foreign: list[dict] = field(default_factory=list)        # foreign records after it
    accounted: dict[str, int] = field(default_factory=dict)  # "VENUE|ExecID" -> ns: what the ledger took
    finished: dict[str, "FinishedTicket"] = field(default_factory=dict)   # ended tickets, by ticket id
    releases: dict[str, dict] = field(default_factory=dict)  # pair -> its last release record (mode, cap, file)
    last_prefix: str | None = None
    records: int = 0
    bad_lines: int = 0


def replay(path: str | Path) -> JournalState:
    """Fold the journal into positions held and tickets still open. A torn last line (the process
    died mid-write) is skipped and counted, never fatal."""
    st = JournalState()
    p = Path(path)
    if not p.exists():
        return st
    tickets: dict[str, dict] = {}
    orders: dict[str, list[dict]] = {}
    ends: dict[str, tuple[int, dict]] = {}
    held: dict[str, dict] = {}
    held_at: dict[str, int] = {}
    flat_at: dict[str, int] = {}
    ended_ns: dict[str, int | None] = {}
    recent: dict[str, FinishedTicket] = {}
    # net lots of a ticket that the "held" lines already include: a ticket that had ended when the
    # journal was compacted ("recent"), or had ended and reopened ("ticket" with "applied"). When it
    # ends again only the change since counts, as at run time (Settlement.update_holdings)
    applied: dict[str, dict] = {}
    with open(p, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
                kind = r.pop("k")
            except (json.JSONDecodeError, KeyError, AttributeError):
                st.bad_lines += 1
                continue
            t_ns = r.pop("t", None)
            st.records += 1
            if kind == "intent":      # a new ticket and the orders it sent first, in one line
                t = r["ticket"]
                tickets[t["ticket_id"]] = t
                orders[t["ticket_id"]] = list(r["orders"])
                if r["orders"]:
                    st.last_prefix = r["orders"][-1]["cl_ord_id"].rsplit("-", 1)[0]
            elif kind == "ticket":
                tickets[r["ticket_id"]] = r
                orders.setdefault(r["ticket_id"], [])
                if r.get("applied"):
                    applied[r["ticket_id"]] = r["applied"]
            elif kind == "order":
                orders.setdefault(r["ticket_id"], []).append(r)
                st.last_prefix = r["cl_ord_id"].rsplit("-", 1)[0]
            elif kind == "held":
                held[r["ticket_id"]] = r
                held_at[r["ticket_id"]] = n
            elif kind == "pair":
                st.pair_states[r.pop("pair")] = r
            elif kind == "end":
                ends[r["ticket_id"]] = (n, r)     # the last end of a ticket counts
                ended_ns[r["ticket_id"]] = r.get("ended_ns") or t_ns
            elif kind == "recent":                # a finished ticket a compaction kept (its lots are in "held")
                tid = r["ticket"]["ticket_id"]
                recent[tid] = FinishedTicket(r["ticket"], r["orders"], r["net"], r.get("ended_ns"))
                applied[tid] = r["net"]
            elif kind == "reopen":
                ends.pop(r["ticket_id"], None)    # a late fill broke its match: open again
                back = recent.pop(r["ticket_id"], None)
                if back is not None:
                    tickets[r["ticket_id"]] = {**back.record, "state": "LEGGED", "applied": back.net}
                    orders[r["ticket_id"]] = list(back.orders)
            elif kind == "flat":
                flat_at[r["pair"]] = n
            elif kind == "global":
                st.global_state = r
            elif kind == "ledger":
                st.ledger, st.fills, st.foreign = r, [], []
            elif kind == "fill":
                st.fills.append(r)
                if r.get("exec_id") and r.get("venue"):
                    st.accounted[f"{r['venue']}|{r['exec_id']}"] = 0
            elif kind == "foreign":
                st.foreign.append(r)
                if r.get("exec_id") and r.get("venue"):
                    st.accounted[f"{r['venue']}|{r['exec_id']}"] = 0
            elif kind == "accounted":
                st.accounted.update({k: int(v) for k, v in r.get("ids", [])})
            elif kind == "release":
                st.releases[r.pop("pair")] = r
            elif kind == "alias":                 # a cancel's ClOrdID: another name of the order
                for o in orders.get(r["ticket_id"], []) + (recent[r["ticket_id"]].orders
                                                           if r["ticket_id"] in recent else []):
                    if o.get("cl_ord_id") == r["of"]:
                        o.setdefault("aliases", []).append(r["cl_ord_id"])
    for tid in [t for t, h in held.items() if held_at[t] < flat_at.get(h["pair"], -1)]:
        del held[tid]
    # opening tickets first, then the closing ones that reduce what they opened, then the rest
    for intents in (("OPEN",), ("CLOSE", "FLATTEN")):
        for tid, (n, end) in ends.items():
            t = tickets.get(tid)
            if t is not None and t["intent"] in intents and n > flat_at.get(t["pair"], -1):
                _fold_end(held, t, end, applied.get(tid))
    st.held = [h for h in held.values() if Decimal(h["inner"]) != 0 or Decimal(h["outer"]) != 0]
    st.open_tickets = {tid: OpenTicket(t, orders.get(tid, [])) for tid, t in tickets.items() if tid not in ends}
    st.finished = dict(recent)
    for tid, (_, end) in ends.items():
        t = tickets.get(tid)
        if t is not None:
            rec = {k: v for k, v in t.items() if k != "applied"}
            st.finished[tid] = FinishedTicket({**rec, "state": end.get("state", rec.get("state"))}, orders.get(tid, []),
                                              end["net"], ended_ns.get(tid))
    return st


def history(path: str | Path) -> list[dict]:
    """Every record of the journal as written, in order, each with its kind ``k`` and, when it has
    one, its wall time ``t`` (epoch ns; lines of older versions have none). For completing the audit
    of a run that died (:mod:`xmc_fix.audit.recovery`): unlike :func:`replay` it folds nothing.
    A torn line is skipped."""
    p = Path(path)
    out: list[dict] = []
    if not p.exists():
        return out
    with open(p, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(r, dict) and "k" in r:
                out.append(r)
    return out


def _fold_end(held: dict[str, dict], ticket: dict, end: dict, applied: dict | None = None) -> None:
    """Apply the change in a finished ticket's net lots since the holdings last took them in
    (``applied``: what the "held" lines already include of it; nothing for a ticket new since the
    compaction): an opening ticket's lots are its holding; a closing ticket reduces the holding it
    closes. A closing ticket whose holding is gone leaves lots of its own, named by their sign, as
    at run time (:meth:`xmc_fix.execution.settlement.Settlement.update_holdings`)."""
    di = Decimal(end["net"]["INNER"]) - Decimal((applied or {}).get("INNER", 0))
    do = Decimal(end["net"]["OUTER"]) - Decimal((applied or {}).get("OUTER", 0))
    if not di and not do:
        return
    closing = ticket["intent"] == "CLOSE"
    target = held.get(ticket.get("closes") or "") if closing else None
    if target is None:
        target = held.get(ticket["ticket_id"])
    if target is None:
        direction = ticket["direction"]
        if closing:
            direction = "BUY_BASIS" if (di if di else -do) > 0 else "SELL_BASIS"
        held[ticket["ticket_id"]] = {"ticket_id": ticket["ticket_id"], "pair": ticket["pair"],
                                     "direction": direction, "opened_ns": ticket["created_ns"],
                                     "inner": str(di), "outer": str(do)}
        return
    target["inner"] = str(Decimal(target["inner"]) + di)
    target["outer"] = str(Decimal(target["outer"]) + do)
