"""A QuickFIX callback that fails is audited (``callback_error``) with the message it failed on —
masked: the message may be a Logon with its password, and the exception's text may quote it."""

from __future__ import annotations

from xmc_fix.app import engine_from_files
from xmc_fix.paths import SESSIONS
from xmc_fix.sim.wiring import sim_from_files

SOH = "\x01"
LOGON = f"8=FIX.4.4{SOH}9=70{SOH}35=A{SOH}34=1{SOH}49=XMC{SOH}56=SHFE{SOH}98=0{SOH}108=30{SOH}553=trader{SOH}" \
        f"554=hunter2-secret{SOH}10=123{SOH}"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def event(self, kind, ts_ns, **detail) -> None:
        self.events.append((kind, detail))


def test_the_engines_callback_errors_are_audited_and_logged_masked(tmp_path, caplog):
    eng = engine_from_files(str(SESSIONS / "venues.cfg"), str(SESSIONS / "strategy.toml"), None,
                            store=str(tmp_path / "store"), journal_path=str(tmp_path / "j.jsonl"),
                            control_path=str(tmp_path / "c.sock"))
    eng.audit = Recorder()

    eng.app._fail("fromAdmin", ValueError(f"cannot read {LOGON.replace(SOH, '|')}"), None, LOGON)

    [(kind, detail)] = eng.audit.events
    assert kind == "callback_error" and detail["where"] == "fromAdmin"
    assert "hunter2" not in repr(detail)
    assert "554=***" in detail["raw"] and "554=***" in detail["error"] and "553=trader" in detail["raw"]
    assert "fromAdmin callback failed" in caplog.text and "hunter2" not in caplog.text


def test_the_simulators_callback_errors_are_audited_and_logged_masked(tmp_path, caplog):
    server = sim_from_files(str(SESSIONS / "sim.cfg"), str(SESSIONS / "sim_market.toml"), store=str(tmp_path / "s"))
    server.audit = Recorder()

    server.app.fail("fromAdmin", ValueError(f"bad logon {LOGON}"), "FIX.4.4:SHFE->XMC", LOGON)

    [(kind, detail)] = server.audit.events
    assert kind == "callback_error" and "hunter2" not in repr(detail)
    assert "554=***" in detail["raw"] and "554=***" in detail["error"]
    assert "sim fromAdmin failed" in caplog.text and "hunter2" not in caplog.text
