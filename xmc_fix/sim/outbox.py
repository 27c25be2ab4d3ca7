"""Where a simulated venue's messages go: the client's order session, the venue's drop-copy sessions,
or nowhere for now — a gateway that has gone silent.

Every execution report is a venue fact first: it is copied at once to each drop-copy session of the
venue that serves the order's account (same ExecID, CopyMsgIndicator Y), whatever happens to the
order session's copy afterwards — held by latency, withheld, or swallowed by a silent gateway. So a
client can learn a fill from the drop copy alone, as it can from a real venue's.

A silent session (:meth:`Outbox.silence`) stays up (QuickFIX keeps heartbeating) but gets no
application message but market data: execution reports, cancel rejects and answers to status,
mass-status and position requests are held and delivered when the silence ends (``keep``), or
dropped, leaving the client only what it asks for afterwards. The whole connection going quiet
(no heartbeats either) is the fault proxy's job, not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from xmc_fix.fixwire import SOH
from xmc_fix.sim.reports import Report, render_report

MARKET_DATA = frozenset({"W", "X", "Y"})


@dataclass(frozen=True, slots=True)
class DropCopy:
    """A read-only session that receives a copy of every execution report of its venue, for the
    accounts it serves (``None``: all)."""

    session: str
    accounts: frozenset[str] | None = None

    def serves(self, account: str | None) -> bool:
        return self.accounts is None or (account or "") in self.accounts


@dataclass(slots=True)
class _Silence:
    generation: int
    keep: bool
    held: list = field(default_factory=list)    # (msg_type, body, dd, poss_resend)


class Outbox:
    def __init__(self, send: Callable[[str, str, bool], bool], begin_string: Callable[[str], str],
                 schedule: Callable[..., None], drop_copies: dict[str, list[DropCopy]] | None = None) -> None:
        self._send_text = send
        self.begin = begin_string
        self.schedule = schedule
        self.drop_copies = drop_copies or {}
        self._silent: dict[str, _Silence] = {}
        self._generation = 0
        self.stats = {"copies": 0, "held_silent": 0, "dropped_silent": 0}

    # -- execution reports -------------------------------------------------------------------
    def copy(self, venue: str, report: Report) -> None:
        """The report to every drop copy of ``venue`` that serves its account."""
        for dc in self.drop_copies.get(venue, ()):
            if dc.serves(report.account):
                self.stats["copies"] += 1
                self.send(dc.session, "8", render_report(report, self.begin(dc.session), copy=True))

    def report(self, session: str, report: Report, *, poss_resend: bool = False) -> None:
        """The report to the order session (no copy: see :meth:`copy`)."""
        self.send(session, "8", render_report(report, self.begin(session)), poss_resend=poss_resend)

    # -- the wire ----------------------------------------------------------------------------
    def send(self, session: str, msg_type: str, body: str, dd: bool = False, poss_resend: bool = False) -> None:
        quiet = self._silent.get(session)
        if quiet is not None and msg_type not in MARKET_DATA:
            if quiet.keep:
                self.stats["held_silent"] += 1
                quiet.held.append((msg_type, body, dd, poss_resend))
            else:
                self.stats["dropped_silent"] += 1
            return
        begin = self.begin(session)
        head = f"35={msg_type}{SOH}" + (f"97=Y{SOH}" if poss_resend else "")
        self._send_text(session, f"8={begin}{SOH}9={len(head) + len(body)}{SOH}{head}{body}10=000{SOH}", dd)

    # -- a gateway that stops answering ------------------------------------------------------
    def silence(self, session: str, seconds: float, *, keep: bool) -> None:
        """No application message but market data to ``session`` for ``seconds``; then what was
        held goes out in order (``keep``) or is gone."""
        self._generation += 1
        current = self._silent.get(session)
        if current is None:
            current = self._silent[session] = _Silence(self._generation, keep)
        current.generation = self._generation
        current.keep = current.keep and keep
        self.schedule(seconds, self._end_silence, session, self._generation)

    def silent(self, session: str) -> bool:
        return session in self._silent

    def _end_silence(self, session: str, generation: int) -> None:
        current = self._silent.get(session)
        if current is None or current.generation != generation:
            return          # a later silence on the same session runs on
        del self._silent[session]
        for msg_type, body, dd, poss_resend in current.held:
            self.send(session, msg_type, body, dd, poss_resend)
