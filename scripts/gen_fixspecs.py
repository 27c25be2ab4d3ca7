#!/usr/bin/env python3
"""Generate the venue dictionaries under fixspecs/ from QuickFIX's stock FIX44.xml.

- FIX44-XMC.xml: FIX 4.4 as our venues speak it. The stock QuickFIX file lacks RptSeq (83) in
  MarketDataIncrementalRefresh's entries and in the snapshot, where FIX 5.0 has it; books need it
  to detect a lost update, so it is added (optional) in both places.
- FIX44-SHFE.xml: the domestic broker gateway (SHFE, INE): FIX44-XMC plus PositionEffect (77)
  values T = close today and Y = close yesterday, PositionEffect required on orders, and the
  user-defined tag HedgeFlag (9001: 1 speculation, 2 arbitrage, 3 hedge) on orders and reports.

Run it after changing this script; tests/unit/test_fixspecs.py fails when the committed files
differ from what it generates.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "fixspecs"


def _find(root: ET.Element, path: str) -> ET.Element:
    el = root.find(path)
    if el is None:
        raise SystemExit(f"gen_fixspecs: {path} not found in FIX44.xml")
    return el


def _insert_after(parent: ET.Element, after_name: str, new: ET.Element) -> None:
    for i, child in enumerate(list(parent)):
        if child.get("name") == after_name:
            parent.insert(i + 1, new)
            return
    raise SystemExit(f"gen_fixspecs: {after_name} not found in {parent.get('name')}")


def xmc(root: ET.Element) -> ET.Element:
    grp = _find(root, "./components/component[@name='MDIncGrp']/group[@name='NoMDEntries']")
    _insert_after(grp, "MDEntryPositionNo", ET.Element("field", name="RptSeq", required="N"))
    snap = _find(root, "./messages/message[@name='MarketDataSnapshotFullRefresh']")
    _insert_after(snap, "MDReqID", ET.Element("field", name="RptSeq", required="N"))
    return root


def shfe(root: ET.Element) -> ET.Element:
    xmc(root)
    pe = _find(root, "./fields/field[@number='77']")
    pe.append(ET.Element("value", enum="T", description="CLOSE_TODAY"))
    pe.append(ET.Element("value", enum="Y", description="CLOSE_YESTERDAY"))
    hedge = ET.Element("field", number="9001", name="HedgeFlag", type="CHAR")
    for enum, desc in (("1", "SPECULATION"), ("2", "ARBITRAGE"), ("3", "HEDGE")):
        hedge.append(ET.Element("value", enum=enum, description=desc))
    _find(root, "./fields").append(hedge)
    for name in ("NewOrderSingle", "OrderCancelReplaceRequest"):
        msg = _find(root, f"./messages/message[@name='{name}']")
        for child in msg:
            if child.get("name") == "PositionEffect":
                child.set("required", "Y")
        _insert_after(msg, "PositionEffect", ET.Element("field", name="HedgeFlag", required="N"))
    er = _find(root, "./messages/message[@name='ExecutionReport']")
    _insert_after(er, "PositionEffect", ET.Element("field", name="HedgeFlag", required="N"))
    return root


def render(root: ET.Element) -> str:
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="unicode") + "\n"


def generate() -> dict[str, str]:
    out = {}
    for name, fn in (("FIX44-XMC.xml", xmc), ("FIX44-SHFE.xml", shfe)):
        root = ET.parse(ROOT / "FIX44.xml").getroot()
        out[name] = render(fn(root))
    return out


def main() -> int:
    for name, text in generate().items():
        (ROOT / name).write_text(text, encoding="utf-8")
        print(f"wrote fixspecs/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
