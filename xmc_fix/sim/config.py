"""The simulator's market file (TOML): price factors, venues, instruments, market makers.

Documented in the README ("Simulator market file"). Validated at start-up like every other file:
errors name the file and key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from xmc_fix.basis.formula import Formula, FormulaError
from xmc_fix.errors import ConfigError
from xmc_fix.sim.positions import InitialPosition, load_positions
from xmc_fix.tomlsection import Section


@dataclass(frozen=True, slots=True)
class FactorCfg:
    name: str
    kind: str            # walk (geometric random walk) | ou (mean-reverting, absolute)
    start: float
    vol: float = 0.0     # walk: relative standard deviation per step
    mean: float = 0.0    # ou
    kappa: float = 0.0   # ou: share of the distance to the mean recovered per step
    sigma: float = 0.0   # ou: absolute standard deviation per step


@dataclass(frozen=True, slots=True)
class MarketMakerCfg:
    levels: int = 5
    half_spread_ticks: int = 1
    gap_ticks: int = 1
    size_min: int = 5
    size_max: int = 30


@dataclass(frozen=True, slots=True)
class SimInstrumentCfg:
    venue: str
    symbol: str
    security_id: str | None
    currency: str
    contract_size: Decimal
    unit: str
    tick: Decimal
    lot_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    fair: Formula
    noise: float
    mm: MarketMakerCfg


@dataclass(frozen=True, slots=True)
class SimVenueCfg:
    name: str
    position_effect: bool = False
    instruments: dict[str, SimInstrumentCfg] = field(default_factory=dict)
    order_mass_status: bool = True       # answers OrderMassStatusRequest (AF); else BusinessMessageReject
    request_for_positions: bool = True   # answers RequestForPositions (AN) with AO and AP; else reject
    positions: tuple[InitialPosition, ...] = ()   # held before the simulator started


@dataclass(frozen=True, slots=True)
class MarketCfg:
    path: str
    seed: int
    step_ms: int
    depth: int
    factors: dict[str, FactorCfg]
    venues: dict[str, SimVenueCfg]


def load_market(path: str | Path, *, seed: int | None = None) -> MarketCfg:
    file = str(path)
    p = Path(path)
    if not p.is_file():
        raise ConfigError("file not found", file=file, key="--market", remedy="pass the simulator market file with --market")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"), parse_float=Decimal)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", file=file, remedy="fix the syntax at that line") from None
    top = Section(file, "", data)
    top.used |= {"market", "factors", "venues"}
    top.check_unknown()
    m = Section(file, "market", data.get("market", {}))
    seed_v = m.int("seed", 1)
    step_ms = m.int("step_ms", 100, minimum=1)
    depth = m.int("depth", 5, minimum=1)
    m.check_unknown()

    factors: dict[str, FactorCfg] = {}
    for name, body in data.get("factors", {}).items():
        s = Section(file, f"factors.{name}", body)
        kind = s.str("kind", choices=("walk", "ou"))
        f = FactorCfg(name, kind, float(s.dec("start")), vol=float(s.dec("vol", Decimal(0), nonneg=True)),
                      mean=float(s.dec("mean", Decimal(0))), kappa=float(s.dec("kappa", Decimal(0), nonneg=True)),
                      sigma=float(s.dec("sigma", Decimal(0), nonneg=True)))
        s.check_unknown()
        factors[name] = f
    if not factors:
        raise ConfigError("no [factors.*] defined", file=file, key="factors", remedy="define at least one price factor")

    venues: dict[str, SimVenueCfg] = {}
    for vname, vbody in data.get("venues", {}).items():
        vs = Section(file, f"venues.{vname}", vbody)
        pe = vs.bool("position_effect", False)
        mass_status = vs.bool("order_mass_status", True)
        positions_req = vs.bool("request_for_positions", True)
        vs.used |= {"instruments", "positions"}
        vs.check_unknown()
        insts: dict[str, SimInstrumentCfg] = {}
        for sym, body in vbody.get("instruments", {}).items():
            s = Section(file, f"venues.{vname}.instruments.{sym}", body)
            try:
                fair = Formula(s.str("fair"), number=float, allowed_names=set(factors))
            except FormulaError as e:
                raise s.error("fair", str(e), "use factor names, numbers and + - * /") from None
            mm = s.raw("mm", {})
            ms = Section(file, f"venues.{vname}.instruments.{sym}.mm", mm)
            mmc = MarketMakerCfg(levels=ms.int("levels", 5, minimum=1),
                                 half_spread_ticks=ms.int("half_spread_ticks", 1, minimum=0),
                                 gap_ticks=ms.int("gap_ticks", 1, minimum=1),
                                 size_min=ms.int("size_min", 5, minimum=1),
                                 size_max=ms.int("size_max", 30, minimum=1))
            ms.check_unknown()
            if mmc.size_max < mmc.size_min:
                raise ms.error("size_max", f"{mmc.size_max} is below size_min {mmc.size_min}",
                               "raise size_max or lower size_min")
            inst = SimInstrumentCfg(
                venue=vname, symbol=sym, security_id=s.str("security_id", None), currency=s.str("currency"),
                contract_size=s.dec("contract_size", positive=True), unit=s.str("unit"),
                tick=s.dec("tick", positive=True), lot_step=s.dec("lot_step", Decimal(1), positive=True),
                min_qty=s.dec("min_qty", Decimal(1), positive=True),
                max_qty=s.dec("max_qty", Decimal(10000), positive=True),
                fair=fair, noise=float(s.dec("noise", Decimal(0), nonneg=True)), mm=mmc)
            s.check_unknown()
            insts[sym] = inst
        held = vbody.get("positions", [])
        if not isinstance(held, list) or not all(isinstance(x, dict) for x in held):
            raise vs.error("positions", "expected [[venues.NAME.positions]] tables",
                           f"write each holding as [[venues.{vname}.positions]]")
        stub = SimVenueCfg(vname, pe, insts)
        positions = load_positions(file, f"venues.{vname}.positions", held, {vname: stub}, venue=vname)
        venues[vname] = SimVenueCfg(vname, pe, insts, mass_status, positions_req, tuple(positions))
    if not venues:
        raise ConfigError("no [venues.*] defined", file=file, key="venues",
                          remedy="define [venues.NAME] and its [venues.NAME.instruments.SYMBOL]")
    return MarketCfg(file, seed if seed is not None else seed_v, step_ms, depth, factors, venues)
