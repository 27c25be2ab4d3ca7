"""Which rejects close a repair path: OrdRejReason (103) as decoded from the wire, and the table
and texts that say a retry at the same venue cannot succeed."""

from __future__ import annotations

import pytest

from tests.unit.venues.test_translate import er_text
from xmc_fix.execution.repair import FINAL_REJECT_CODES, final_reject
from xmc_fix.venues import translate as tr


def test_the_reject_reason_travels_on_the_execution_report():
    rep = tr.decode_execution_report("SHFE", er_text(t150="8", t39="8", t103="3", t58="insufficient margin"), 0)
    assert (rep.ord_rej_reason, rep.text) == ("3", "insufficient margin")
    assert tr.decode_execution_report("SHFE", er_text(), 0).ord_rej_reason is None


@pytest.mark.parametrize("code", sorted(FINAL_REJECT_CODES, key=int))
def test_each_final_code_is_final_whatever_the_text(code):
    assert final_reject(code, "rejected") == FINAL_REJECT_CODES[code]


@pytest.mark.parametrize("code, text, final", [
    ("99", "insufficient short today position to close: 9 available, 27 asked", "insufficient margin or position"),
    (None, "Unknown symbol 'XX'", "unknown instrument"),
    ("0", "market closed", "market closed"),
    ("99", "price 77705 is not on the tick grid of 10", "price or quantity invalid"),
    ("99", "quantity 3 must be a multiple of 2 between 2 and 200", "price or quantity invalid"),
    (None, "duplicate ClOrdID X1", "duplicate order"),
    ("99", "rejected by venue (simulated)", None),      # a retry may pass
    (None, "price outside limits", None),               # a re-priced order may pass
    ("8", "stale order", None),
    (None, None, None),
    (None, "not sent: LME session unavailable", None),  # the session may come back
])
def test_the_text_decides_when_the_code_does_not(code, text, final):
    assert final_reject(code, text) == final
