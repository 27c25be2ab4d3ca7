"""The drop copy over real sessions: a fill the order session never reports reaches the engine only
through the venue's drop-copy session and is applied after the grace period; a fill of an order
another terminal placed, heard only on the drop copy, becomes foreign lots."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.integration.conftest import SESSIONS, start_sim, wait_until
from tests.integration.test_repair import ONE_TICKET, _rows, _scenario, _strategy

pytestmark = pytest.mark.integration

GRACE = ONE_TICKET.replace("[pairs.CU_SHFE_LME]", "[reconcile]\ndrop_copy_grace_ms = 500\n\n[pairs.CU_SHFE_LME]")


def _run(tmp_path, scenario: str, until, seconds: float = 20.0):
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, scenario)])
    from xmc_fix import app as A
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    eng = A.engine_from_files(str(SESSIONS / "venues.cfg"), str(_strategy(tmp_path, GRACE)), db, ports=sim.ports,
                              store=str(tmp_path / "store-engine"), extra_credentials=sim.credentials,
                              journal_path=str(tmp_path / "journal.jsonl"), control_path=str(tmp_path / "c.sock"))
    try:
        eng.start()
        assert wait_until(lambda: eng.serial.call(lambda: until(eng.engine)), seconds), \
            eng.serial.call(lambda: (dict(eng.engine.drop_copy.counts), eng.engine.tickets_by_state()))
    finally:
        summary = eng.stop(drain_s=2)
        sim.proc.stop()
    return eng, db, summary


def test_a_fill_seen_only_on_the_drop_copy_is_applied_after_the_grace_period(tmp_path):
    # LME's first order: its fill reaches only the drop copy; the order session never reports it
    eng, db, summary = _run(tmp_path, '[[script]]\nvenue = "LME"\norder = 1\naction = "withhold"\n',
                            lambda e: e.drop_copy.counts["applied"] >= 1)
    assert summary["drop_copy"]["applied"] >= 1 and summary["drop_copy"]["reports"] >= 1
    applied = [json.loads(d) for (d,) in _rows(db, "select detail from events where kind='drop_copy_applied'")]
    assert applied and applied[0]["exec_type"] == "TRADE"
    # the LME lot counts for the pair: the first ticket completed (or was repaired) rather than legged
    first = _rows(db, "select state from tickets order by created_ns limit 1")[0][0]
    assert first in ("COMPLETED", "UNWOUND"), first
    pr = eng.engine.pairs["CU_SHFE_LME"]
    assert abs(pr.residual_units) <= pr.cfg.residual_tolerance


def test_a_manual_order_heard_only_on_the_drop_copy_becomes_foreign_lots(tmp_path):
    scenario = ('[[script]]\nvenue = "SHFE"\norder = 1\naction = "foreign"\nms = 100\nside = "buy"\nqty = 2\n'
                'position_effect = "open"\nreport_to = "drop_copy"\n')
    eng, db, summary = _run(tmp_path, scenario, lambda e: e.state.ledger.foreign_lots())
    foreign = {x["pair"]: Decimal(x["residual"]) for x in summary["exposure"] if x["state"] == "FOREIGN"}
    assert foreign == {"SHFE_CU": Decimal(2)}, summary["exposure"]
    alerts = [json.loads(d)["alert"] for (d,) in _rows(db, "select detail from events where kind='alert'")]
    assert "drop_copy_fill" in alerts and "unknown_order_fill" in alerts
