"""The drop copy: a second, independent source of fills.

A venue's drop-copy session (a read-only initiator session marked ``DropCopyFor=VENUE`` in the
sessions file) copies every execution report of the account. The order session's own report
normally arrives first; a copied fill whose ExecID the engine has not seen on the order session within
``[reconcile] drop_copy_grace_ms`` is applied as if it had (the order's state, the position, the
ticket), alerted (``drop_copy_fill``), and counted apart. Reports that are not fills only confirm.

A drop copy may carry more than this engine's account (a firm's drop copy carries every account the
firm trades there, another desk's engine included). A report naming an Account (1) other than the
engine's ``[engine] account`` is none of this engine's exposure: it is recorded
(``drop_copy_other_account``) and counted, never applied. A report without an Account, or an engine
without one configured, is taken as the engine's own: the conservative reading.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

from xmc_fix.domain.enums import ExecType
from xmc_fix.domain.events import DropCopyReport, DropCopySession, ExecReport
from xmc_fix.execution.records import AuditSink
from xmc_fix.execution.state import EngineState
from xmc_fix.risk.alerts import Alert, Alerter

MS = 1_000_000


class DropCopyWatch:
    def __init__(self, state: EngineState, audit: AuditSink, alerts: Alerter,
                 apply: Callable[[ExecReport], None]) -> None:
        self.state = state
        self.audit = audit
        self.alerts = alerts
        self.apply = apply                   # the engine's own path for an execution report
        self.pending: dict[str, tuple[ExecReport, int]] = {}
        self.counts: Counter = Counter()     # reports, fills, confirmed, applied

    def _seen(self, er: ExecReport) -> bool:
        if self.state.was_accounted(er.venue, er.exec_id):
            return True
        order = self.state.orders.get(er.cl_ord_id) or self.state.orders.get(er.orig_cl_ord_id or "")
        if order is not None:
            return er.exec_id in order.exec_ids
        return er.exec_id in self.state.foreign_fills

    def pending_at(self, venue: str) -> bool:
        """Fills the drop copy showed at ``venue`` that are not applied yet (positions there are in flux)."""
        return any(er.venue == venue for er, _ in self.pending.values())

    def on_session(self, ev: DropCopySession) -> None:
        self.audit.event("drop_copy_up" if ev.up else "drop_copy_down", ev.recv_ns, venue=ev.venue, reason=ev.reason)

    def on_report(self, ev: DropCopyReport) -> None:
        er = ev.report
        self.counts["reports"] += 1
        fill = (er.exec_type is ExecType.TRADE and er.last_qty > 0) or er.exec_type.corrects
        if not fill:
            return
        self.counts["fills"] += 1
        mine = self.state.strategy.engine.account
        if mine and er.account and er.account != mine:
            self.counts["other_account"] += 1
            self.audit.event("drop_copy_other_account", er.recv_ns, venue=er.venue, account=er.account,
                             cl_ord_id=er.cl_ord_id, exec_id=er.exec_id, exec_type=er.exec_type.value)
            return
        if self._seen(er):
            self.counts["confirmed"] += 1
            return
        grace = self.state.strategy.reconcile.drop_copy_grace_ms * MS
        self.pending.setdefault(er.exec_id, (er, er.recv_ns + grace))

    def on_timer(self, now_ns: int) -> None:
        for exec_id, (er, deadline) in list(self.pending.items()):
            if self._seen(er):
                del self.pending[exec_id]
                self.counts["confirmed"] += 1
            elif now_ns >= deadline:
                del self.pending[exec_id]
                self.counts["applied"] += 1
                self.audit.event("drop_copy_applied", now_ns, venue=er.venue, cl_ord_id=er.cl_ord_id, exec_id=exec_id,
                                 exec_type=er.exec_type.value, qty=str(er.last_qty), px=str(er.last_px))
                self.alerts.alert(Alert("drop_copy_fill", "critical",
                                        f"{er.venue} fill {exec_id} of {er.cl_ord_id} ({er.side.value} {er.last_qty} "
                                        f"{er.symbol} at {er.last_px}) seen only on the drop copy: applied",
                                        now_ns, venue=er.venue, action="position and ticket follow the drop copy"))
                self.apply(er)
