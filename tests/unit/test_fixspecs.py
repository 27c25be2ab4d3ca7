"""The FIX dictionaries under fixspecs/: generated files are current and QuickFIX loads them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import quickfix as fix

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "fixspecs"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_fixspecs", ROOT / "scripts" / "gen_fixspecs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["FIX44-XMC.xml", "FIX44-SHFE.xml"])
def test_committed_venue_dictionary_matches_its_generator(name):
    assert (SPECS / name).read_text(encoding="utf-8") == _generator().generate()[name], \
        f"run scripts/gen_fixspecs.py: fixspecs/{name} is stale"


@pytest.mark.parametrize("name", sorted(p.name for p in SPECS.glob("FIX*.xml")))
def test_quickfix_loads_every_dictionary(name):
    dd = fix.DataDictionary(str(SPECS / name))
    assert dd.getVersion().startswith("FIX")


def test_shfe_dictionary_knows_close_today_and_hedge_flag_and_requires_position_effect():
    dd = fix.DataDictionary(str(SPECS / "FIX44-SHFE.xml"))
    assert dd.isFieldValue(77, "T") and dd.isFieldValue(77, "Y") and dd.isFieldValue(77, "O")
    assert dd.isField(9001) and dd.isMsgField("D", 9001) and dd.isMsgField("8", 9001)
    assert dd.isRequiredField("D", 77)
    stock = fix.DataDictionary(str(SPECS / "FIX44.xml"))
    assert not stock.isFieldValue(77, "T") and not stock.isField(9001)


def test_xmc_dictionary_carries_rptseq_in_incremental_refresh_entries():
    dd = fix.DataDictionary(str(SPECS / "FIX44-XMC.xml"))
    body = ("262=M1\x01268=1\x01279=0\x01269=0\x0155=CU\x01270=77300\x01271=12\x0183=55\x01")
    text = f"8=FIX.4.4\x019={len(body)}\x0135=X\x01{body}10=000\x01"
    msg = fix.Message(text, dd, False)
    group = fix.Group(268, 279)
    msg.getGroup(1, group)
    assert group.getField(83) == "55"
