"""Alerts: every breach and every trading-state change.

An alert is stored (audit event ``alert``), logged, kept for ``xmc status`` and ``xmc watch``, and
handed to the optional hook from the strategy file's ``[alerts]``: a command (the alert as JSON on
its stdin) and/or a webhook URL (POSTed as JSON). Hooks run on a worker thread, never on the
engine's: a slow pager cannot delay a protective action. A protective alert (warning or critical)
carries how long protection took, measured on the engine thread: ``detect_us`` from the arrival of
the fact that triggered it to its detection, ``action_us`` from detection to the protection in
place, ``alert_to_action_us`` the two together (see :mod:`xmc_fix.risk.monitor`); an information
alert carries none.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import threading
import urllib.request
from collections import deque
from dataclasses import asdict, dataclass

from xmc_fix.config import AlertHook

log = logging.getLogger("xmc.alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str                    # e.g. limit_breach, reject_spike, latency_spike, session_down, stale_data,
                                 # residual_exposure, daily_loss, repair_loop, state_change, operator
    severity: str                # info | warning | critical
    message: str
    ts_ns: int
    pair: str | None = None
    venue: str | None = None
    action: str | None = None    # what was done about it
    alert_to_action_us: float | None = None   # fact arrived -> protection in place (detect + action)
    detect_us: float | None = None            # fact arrived -> detected
    action_us: float | None = None            # detected -> protection in place


class Alerter:
    def __init__(self, audit, hook: AlertHook | None = None, keep: int = 200) -> None:
        self._audit = audit
        self._hook = hook or AlertHook()
        self.recent: deque[Alert] = deque(maxlen=keep)
        self.counts: dict[str, int] = {}
        self._q: queue.SimpleQueue | None = None
        if self._hook.command or self._hook.webhook:
            self._q = queue.SimpleQueue()
            threading.Thread(target=self._deliver, name="xmc-alert-hook", daemon=True).start()

    def alert(self, alert: Alert) -> Alert:
        self.recent.append(alert)
        self.counts[alert.kind] = self.counts.get(alert.kind, 0) + 1
        detail = {k: v for k, v in asdict(alert).items() if k not in ("ts_ns", "pair", "venue") and v is not None}
        detail["alert"] = detail.pop("kind")
        self._audit.event("alert", alert.ts_ns, pair=alert.pair, venue=alert.venue, **detail)
        level = {"critical": logging.ERROR, "warning": logging.WARNING}.get(alert.severity, logging.INFO)
        log.log(level, "ALERT %s %s: %s%s", alert.kind, alert.pair or alert.venue or "global", alert.message,
                f" -> {alert.action}" if alert.action else "")
        if self._q is not None:
            self._q.put(alert)
        return alert

    def _deliver(self) -> None:
        while True:
            alert = self._q.get()
            body = json.dumps(asdict(alert)).encode()
            if self._hook.command:
                try:
                    subprocess.run(self._hook.command, shell=True, input=body, timeout=10,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                except Exception as e:
                    log.warning("alert command failed: %s", e)
            if self._hook.webhook:
                try:
                    req = urllib.request.Request(self._hook.webhook, data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                    urllib.request.urlopen(req, timeout=5).close()
                except Exception as e:
                    log.warning("alert webhook failed: %s", e)
