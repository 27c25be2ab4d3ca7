"""Which parts of the package may import which: reports read the audit database and nothing else of
the running system (not the wiring, not QuickFIX, not the simulator), so a report can be built on a
machine without QuickFIX and a change to the wiring cannot change a figure."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "xmc_fix"


def _module_file(name: str) -> Path | None:
    rel = Path(*name.split("."))
    for p in (PKG.parent / rel.with_suffix(".py"), PKG.parent / rel / "__init__.py"):
        if p.is_file():
            return p
    return None


def _imports(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, resolved to full names."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names if _module_file(f"{base}.{a.name}")}
    return out


def reachable(start: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]   # parent packages run first
        path = _module_file(name) if name.startswith("xmc_fix") else None
        if path is not None:
            todo += sorted(_imports(path, name))
    return seen


def test_reports_reach_neither_the_wiring_nor_quickfix_nor_the_simulator():
    reports = [f"xmc_fix.reports.{p.stem}" for p in (PKG / "reports").glob("*.py") if p.stem != "__init__"]
    reached = reachable(reports)

    forbidden = {m for m in reached if m in ("quickfix", "xmc_fix.app", "xmc_fix.demo", "xmc_fix.cli")
                 or m.startswith("xmc_fix.sim.") or m == "xmc_fix.sim"}
    assert not forbidden, forbidden
    assert "xmc_fix.audit.completeness" in reached     # the coverage figure comes from the audit package


def test_the_engine_wiring_does_not_import_the_simulator_or_the_demo():
    reached = reachable(["xmc_fix.app"])

    assert not {m for m in reached if m.startswith("xmc_fix.sim") or m == "xmc_fix.demo"}
