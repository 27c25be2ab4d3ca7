"""The strategy file (TOML): instruments, FX sources, pairs, thresholds and limits.

Loaded once at start-up into frozen dataclasses and validated as a whole; every error names the
file, the key and what to change (:class:`ConfigError`, exit code 2 at the CLI). The format is
documented in the README ("Strategy file").
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from xmc_fix.basis.alignment import align, smallest_size
from xmc_fix.domain.enums import OrdType, TimeInForce
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.units import UNITS, dimension
from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.calendars import Calendar, calendars_from_toml, lookup
from xmc_fix.tomlsection import Section, table


@dataclass(frozen=True, slots=True)
class EngineConfig:
    namespace: str = "X"
    account: str | None = None
    md_depth: int = 5
    ticket_timeout_ms: int = 5000
    drain_timeout_ms: int = 3000
    drain_settle_ms: int = 500     # on stop: how long no report may arrive before the sessions close
    journal: str | None = None     # write-ahead intent journal; default <data folder>/journal/<namespace>.jsonl
    journal_sync: str = "batch"    # fsync the journal: "batch" (timer thread), "intent" (every line), "none"
    basis_sample_ms: int = 250     # how often each pair's executable basis is recorded (0: never)
    retain_finished_ms: int = 600_000  # finished tickets are forgotten this long after they ended
    metrics_port: int = 0          # Prometheus endpoint on 127.0.0.1 (0: off; README "Metrics")


@dataclass(frozen=True, slots=True)
class RepairPolicy:
    """What a legged ticket does (README "Repair").

    ``auto`` chases the lagging leg when that is expected to cost no more than unwinding the
    leading one (and no more than ``max_chase_cost`` per unit), else unwinds; ``chase`` and
    ``unwind`` force one path (chase still falls back to unwinding when its attempts run out);
    ``halt`` repairs nothing and halts the pair for a human.
    """

    mode: str = "auto"
    chase_ticks: int = 10          # how far beyond the original limit a chase may re-price
    chase_attempts: int = 3
    chase_interval_ms: int = 100   # pause between attempts
    unwind_ticks: int = 20         # unwind orders cross the touch by this much
    unwind_attempts: int = 20
    unwind_interval_ms: int = 200
    max_chase_cost: Decimal | None = None   # inner currency per inner unit
    give_up_ms: int = 30_000       # repairing longer than this: FAILED, pair halted, alert


@dataclass(frozen=True, slots=True)
class FxSource:
    """Where a pair's FX rate comes from: a venue's market data (mid of the book) or a fixed
    configured ``rate``. ``rate`` is units of ``quote`` per one ``base``."""

    name: str
    base: str
    quote: str
    venue: str | None = None
    symbol: str | None = None
    rate: Decimal | None = None
    max_age_ms: int = 5000


@dataclass(frozen=True, slots=True)
class PairConfig:
    name: str
    inner: str
    outer: str
    fx: str | None
    formula: str = "spread"
    tax_factor: Decimal = Decimal(1)
    cost_per_unit: Decimal = Decimal(0)
    ticket_qty: Decimal = Decimal(0)
    max_position: Decimal = Decimal(0)
    entry_above: Decimal | None = None
    exit_above: Decimal | None = None
    entry_below: Decimal | None = None
    exit_below: Decimal | None = None
    residual_tolerance: Decimal = Decimal(0)
    inner_slippage_ticks: int = 2
    outer_slippage_ticks: int = 2
    inner_order_type: OrdType = OrdType.LIMIT
    outer_order_type: OrdType = OrdType.LIMIT
    inner_tif: TimeInForce = TimeInForce.IOC
    outer_tif: TimeInForce = TimeInForce.IOC
    submission: str = "concurrent"   # concurrent | sequential
    sequential_first: str = "auto"   # inner | outer | auto (the leg with less depth for its size)
    max_quote_age_ms: int = 2000
    enabled: bool = True
    repair: RepairPolicy = field(default_factory=RepairPolicy)
    inputs: dict = field(default_factory=dict)      # named pricing inputs for a custom formula
    residual_policy: str = "refuse"                 # refuse | carry (README "Quantity alignment")
    mode: str = "live"                              # live | shadow (README "Gray release")
    live_max_qty: Decimal | None = None             # live tickets at most this (inner unit); None: ticket_qty


@dataclass(frozen=True, slots=True)
class InstrumentLimits:
    max_position: Decimal | None = None        # lots, long or short
    max_order_notional: Decimal | None = None  # price x lots x contract size, instrument currency
    collar_pct: Decimal | None = None          # a limit further than this from the touch is refused
    margin_per_lot: Decimal = Decimal(0)
    market_protection_ticks: int | None = None  # a MARKET order the book cannot price: checked this far
                                               # through the touch


@dataclass(frozen=True, slots=True)
class AccountLimits:
    max_gross_lots: Decimal | None = None      # all instruments at the venue, long plus short
    funds: Decimal | None = None               # margin available at the venue


@dataclass(frozen=True, slots=True)
class PairLimits:
    max_net_exposure: Decimal | None = None    # |inner - outer| in underlying units, legging included
    daily_loss_limit: Decimal | None = None    # realised, inner currency


@dataclass(frozen=True, slots=True)
class AlertHook:
    command: str | None = None                 # run with the alert as JSON on stdin
    webhook: str | None = None                 # POST the alert as JSON


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """The limits of README "Risk". Everything unset is unlimited, except the defaults below."""

    max_message_rate: int = 50                 # per venue, messages a second
    reject_window: int = 20
    max_reject_share: Decimal = Decimal("0.5")
    max_ack_ms: int = 2000
    stale_halt_ms: int = 10_000
    max_unwinds: int = 5                       # unwound tickets of one pair within loop_window_ms: halt
    max_rejects: int = 10                      # rejected orders of one pair within loop_window_ms: halt
    loop_window_ms: int = 60_000
    instruments: dict[str, InstrumentLimits] = field(default_factory=dict)
    accounts: dict[str, AccountLimits] = field(default_factory=dict)
    pairs: dict[str, PairLimits] = field(default_factory=dict)
    alerts: AlertHook = field(default_factory=AlertHook)

    def instrument(self, name: str) -> InstrumentLimits:
        return self.instruments.get(name) or _NO_INSTRUMENT_LIMITS

    def account(self, venue: str) -> AccountLimits:
        return self.accounts.get(venue) or _NO_ACCOUNT_LIMITS

    def pair(self, name: str) -> PairLimits:
        return self.pairs.get(name) or _NO_PAIR_LIMITS


_NO_INSTRUMENT_LIMITS = InstrumentLimits()
_NO_ACCOUNT_LIMITS = AccountLimits()
_NO_PAIR_LIMITS = PairLimits()


@dataclass(frozen=True, slots=True)
class ReconcileConfig:
    """How the engine keeps its view anchored to the venues' (README "Venue truth")."""

    on_difference: str = "halt"    # halt | reduce: the pairs a difference with a venue touches
    interval_ms: int = 60_000      # reconcile with every venue this often (0: at logon and on demand only)
    status_retry_ms: int = 1_000   # an order without a final answer is asked again after this, doubling
    silent_halt_ms: int = 15_000   # unanswered this long: its pairs go HALTED, the exposure reported
    drop_copy_grace_ms: int = 2_000  # a fill on the drop copy and not on the order session within this


@dataclass(frozen=True, slots=True)
class Strategy:
    path: str
    engine: EngineConfig
    instruments: dict[str, Instrument]
    fx: dict[str, FxSource]
    pairs: dict[str, PairConfig]
    venues: frozenset[str] = field(default_factory=frozenset)
    risk: RiskConfig = field(default_factory=RiskConfig)
    calendars: dict[str, Calendar] = field(default_factory=dict)
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)

    def instrument(self, name: str) -> Instrument:
        return self.instruments[name]

    def by_venue_symbol(self) -> dict[tuple[str, str], Instrument]:
        return {i.key: i for i in self.instruments.values()}


def load_strategy(path: str | Path) -> Strategy:
    file = str(path)
    p = Path(path)
    if not p.is_file():
        raise ConfigError("file not found", file=file, remedy="pass an existing strategy file with --strategy")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"), parse_float=Decimal)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", file=file, remedy="fix the syntax at that line") from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=file, remedy="save the file as UTF-8") from None
    top = Section(file, "", data)
    for k in ("engine", "fx", "instruments", "pairs", "risk", "alerts", "calendars", "reconcile"):
        top.used.add(k)
    top.check_unknown()

    e = Section(file, "engine", table(file, data, "engine"))
    engine = EngineConfig(
        namespace=e.str("namespace", "X"),
        account=e.str("account", None),
        md_depth=e.int("md_depth", 5, minimum=1),
        ticket_timeout_ms=e.int("ticket_timeout_ms", 5000, minimum=1),
        drain_timeout_ms=e.int("drain_timeout_ms", 3000, minimum=0),
        drain_settle_ms=e.int("drain_settle_ms", 500, minimum=0),
        journal=e.str("journal", None),
        journal_sync=e.str("journal_sync", "batch", choices=("intent", "batch", "none")),
        basis_sample_ms=e.int("basis_sample_ms", 250, minimum=0),
        retain_finished_ms=e.int("retain_finished_ms", 600_000, minimum=1_000),
        metrics_port=e.int("metrics_port", 0, minimum=0),
    )
    e.check_unknown()
    if engine.metrics_port > 65535:
        raise e.error("metrics_port", f"{engine.metrics_port} is not a TCP port", "use 1-65535, or 0 for no endpoint")
    if not (engine.namespace.isascii() and engine.namespace.isalnum()) or len(engine.namespace) > 4:
        raise ConfigError(f"{engine.namespace!r} is not 1-4 letters or digits", file=file,
                          key="engine.namespace", remedy="give each engine process a short alphanumeric namespace")

    instruments: dict[str, Instrument] = {}
    for name, body in table(file, data, "instruments").items():
        s = Section(file, f"instruments.{name}", body if isinstance(body, dict) else {})
        if not isinstance(body, dict):
            raise s.error("", "expected a table", f"write it as [instruments.{name}]")
        unit = s.str("unit")
        if unit not in UNITS:
            raise s.error("unit", f"unknown unit {unit!r}", f"use one of {', '.join(UNITS)}")
        inst = Instrument(
            name=name,
            venue=s.str("venue"),
            symbol=s.str("symbol"),
            security_id=s.str("security_id", None),
            currency=s.str("currency"),
            contract_size=s.dec("contract_size", positive=True),
            unit=unit,
            tick=s.dec("tick", positive=True),
            lot_step=s.dec("lot_step", Decimal(1), positive=True),
            min_qty=s.dec("min_qty", Decimal(1), positive=True),
            max_order_qty=s.dec("max_order_qty", Decimal(1000), positive=True),
            position_effect=s.bool("position_effect", False),
            calendar=s.str("calendar", None),
        )
        s.check_unknown()
        if inst.max_order_qty < inst.min_qty:
            raise s.error("max_order_qty", f"{inst.max_order_qty} is below min_qty {inst.min_qty}",
                          "raise max_order_qty or lower min_qty")
        instruments[name] = inst
    seen: dict[tuple[str, str], str] = {}
    for inst in instruments.values():
        if inst.key in seen:
            raise ConfigError(f"same venue and symbol as instruments.{seen[inst.key]}", file=file,
                              key=f"instruments.{inst.name}.symbol", remedy="each instrument needs its own symbol")
        seen[inst.key] = inst.name

    fx: dict[str, FxSource] = {}
    for name, body in table(file, data, "fx").items():
        s = Section(file, f"fx.{name}", body if isinstance(body, dict) else {})
        src = FxSource(
            name=name, base=s.str("base"), quote=s.str("quote"),
            venue=s.str("venue", None), symbol=s.str("symbol", None),
            rate=s.dec("rate", None, positive=True), max_age_ms=s.int("max_age_ms", 5000, minimum=1),
        )
        s.check_unknown()
        if src.rate is None and not (src.venue and src.symbol):
            raise s.error("venue", "no source", "give venue and symbol (market data) or a fixed rate")
        fx[name] = src

    pairs: dict[str, PairConfig] = {}
    for name, body in table(file, data, "pairs").items():
        s = Section(file, f"pairs.{name}", body if isinstance(body, dict) else {})
        inner, outer = s.str("inner"), s.str("outer")
        for k, v in (("inner", inner), ("outer", outer)):
            if v not in instruments:
                raise s.error(k, f"unknown instrument {v!r}", f"define [instruments.{v}] or use one of "
                              f"{', '.join(instruments) or '(none defined)'}")
        if inner == outer:
            raise s.error("outer", "inner and outer are the same instrument", "pair two different instruments")
        fx_name = s.str("fx", None)
        if fx_name is not None and fx_name not in fx:
            raise s.error("fx", f"unknown FX source {fx_name!r}", f"define [fx.{fx_name}]")
        pc = PairConfig(
            name=name, inner=inner, outer=outer, fx=fx_name,
            formula=s.str("formula", "spread"),
            tax_factor=s.dec("tax_factor", Decimal(1), positive=True),
            cost_per_unit=s.dec("cost_per_unit", Decimal(0)),
            ticket_qty=s.dec("ticket_qty", positive=True),
            max_position=s.dec("max_position", positive=True),
            entry_above=s.dec("entry_above", None),
            exit_above=s.dec("exit_above", None),
            entry_below=s.dec("entry_below", None),
            exit_below=s.dec("exit_below", None),
            residual_tolerance=s.dec("residual_tolerance", Decimal(0), nonneg=True),
            inner_slippage_ticks=s.int("inner_slippage_ticks", 2, minimum=0),
            outer_slippage_ticks=s.int("outer_slippage_ticks", 2, minimum=0),
            **_leg_orders(s),
            submission=s.str("submission", "concurrent", choices=("concurrent", "sequential")),
            sequential_first=s.str("sequential_first", "auto", choices=("inner", "outer", "auto")),
            max_quote_age_ms=s.int("max_quote_age_ms", 2000, minimum=1),
            enabled=s.bool("enabled", True),
            repair=_repair(file, name, s.raw("repair", {})),
            inputs=_inputs(s),
            residual_policy=s.str("residual_policy", "refuse", choices=("refuse", "carry")),
            mode=s.str("mode", "live", choices=RELEASE_MODES),
            live_max_qty=s.dec("live_max_qty", None, positive=True),
        )
        s.check_unknown()
        _check_pair(s, pc, instruments, fx)
        _check_formula(s, pc)
        pairs[name] = pc

    venues = frozenset(i.venue for i in instruments.values()) | frozenset(
        f.venue for f in fx.values() if f.venue)
    risk = _risk(file, data, instruments, pairs, venues)
    calendars = calendars_from_toml(data, file)
    for inst in instruments.values():
        if inst.calendar is not None:
            lookup(inst.calendar, calendars, file=file, key=f"instruments.{inst.name}.calendar")
    rc = Section(file, "reconcile", table(file, data, "reconcile"))
    reconcile = ReconcileConfig(
        on_difference=rc.str("on_difference", "halt", choices=("halt", "reduce")),
        interval_ms=rc.int("interval_ms", 60_000, minimum=0),
        status_retry_ms=rc.int("status_retry_ms", 1_000, minimum=10),
        silent_halt_ms=rc.int("silent_halt_ms", 15_000, minimum=100),
        drop_copy_grace_ms=rc.int("drop_copy_grace_ms", 2_000, minimum=0))
    rc.check_unknown()
    return Strategy(file, engine, instruments, fx, pairs, venues, risk, calendars, reconcile)


def _risk(file: str, data: dict, instruments: dict, pairs: dict, venues: frozenset) -> RiskConfig:
    r = Section(file, "risk", table(file, data, "risk"))
    r.used |= {"instruments", "accounts", "pairs"}
    d = RiskConfig()
    share = r.dec("max_reject_share", d.max_reject_share, positive=True)
    if share > 1:
        raise r.error("max_reject_share", f"{share} is not a share between 0 and 1", "e.g. max_reject_share = 0.5")
    inst_limits = {}
    for name, body in table(file, r.data, "instruments", "risk.").items():
        s = Section(file, f"risk.instruments.{name}", body if isinstance(body, dict) else {})
        if name not in instruments:
            raise s.error("", f"unknown instrument {name!r}", f"use one of {', '.join(instruments)}")
        inst_limits[name] = InstrumentLimits(
            max_position=s.dec("max_position", None, positive=True),
            max_order_notional=s.dec("max_order_notional", None, positive=True),
            collar_pct=s.dec("collar_pct", None, positive=True),
            margin_per_lot=s.dec("margin_per_lot", Decimal(0), nonneg=True),
            market_protection_ticks=s.int("market_protection_ticks", None, minimum=0))
        s.check_unknown()
    accounts = {}
    for venue, body in table(file, r.data, "accounts", "risk.").items():
        s = Section(file, f"risk.accounts.{venue}", body if isinstance(body, dict) else {})
        if venue not in venues:
            raise s.error("", f"unknown venue {venue!r}", f"use one of {', '.join(sorted(venues))}")
        accounts[venue] = AccountLimits(max_gross_lots=s.dec("max_gross_lots", None, positive=True),
                                        funds=s.dec("funds", None, nonneg=True))
        s.check_unknown()
    pair_limits = {}
    for name, body in table(file, r.data, "pairs", "risk.").items():
        s = Section(file, f"risk.pairs.{name}", body if isinstance(body, dict) else {})
        if name not in pairs:
            raise s.error("", f"unknown pair {name!r}", f"use one of {', '.join(pairs)}")
        pl = PairLimits(max_net_exposure=s.dec("max_net_exposure", None, positive=True),
                        daily_loss_limit=s.dec("daily_loss_limit", None, positive=True))
        s.check_unknown()
        if pl.max_net_exposure is not None and pl.max_net_exposure < pairs[name].ticket_qty:
            raise s.error("max_net_exposure", f"{pl.max_net_exposure} is below the pair's ticket_qty "
                          f"{pairs[name].ticket_qty}", "a ticket that legs leaves up to ticket_qty exposed: raise it")
        pair_limits[name] = pl
    a = Section(file, "alerts", table(file, data, "alerts"))
    hook = AlertHook(command=a.str("command", None), webhook=a.str("webhook", None))
    a.check_unknown()
    if hook.webhook and not hook.webhook.startswith(("http://", "https://")):
        raise a.error("webhook", f"{hook.webhook!r} is not an http(s) URL", "use an http:// or https:// URL")
    cfg = RiskConfig(
        max_message_rate=r.int("max_message_rate", d.max_message_rate, minimum=1),
        reject_window=r.int("reject_window", d.reject_window, minimum=1),
        max_reject_share=share,
        max_ack_ms=r.int("max_ack_ms", d.max_ack_ms, minimum=1),
        stale_halt_ms=r.int("stale_halt_ms", d.stale_halt_ms, minimum=1),
        max_unwinds=r.int("max_unwinds", d.max_unwinds, minimum=0),
        max_rejects=r.int("max_rejects", d.max_rejects, minimum=0),
        loop_window_ms=r.int("loop_window_ms", d.loop_window_ms, minimum=1),
        instruments=inst_limits, accounts=accounts, pairs=pair_limits, alerts=hook)
    r.check_unknown()
    return cfg


#: a pair's release modes (README "Gray release"): live trades; shadow decides and records, sends nothing
RELEASE_MODES = ("live", "shadow")


def live_size_problem(pc: PairConfig, inner: Instrument, outer: Instrument, qty: Decimal) -> str | None:
    """Why live tickets of at most ``qty`` cannot be traded (no lots of both legs match within the
    pair's tolerance at or below it), with the smallest size that can; None when they can."""
    target = min(qty, pc.ticket_qty)
    lim = dict(tolerance=pc.residual_tolerance, max_inner_lots=inner.max_order_qty, max_outer_lots=outer.max_order_qty)
    if align(target, inner, outer, **lim) is not None:
        return None
    least = smallest_size(inner, outer, upto=pc.ticket_qty, **lim)
    return (f"no lots of {inner.name} and {outer.name} match within {pc.residual_tolerance} {inner.unit} at "
            f"{target} {inner.unit} or less; " + (f"the smallest size that does is {least} {inner.unit}"
                                                  if least is not None else "nor at any size up to ticket_qty"))


FORMULA_NAMES = ("inner", "outer", "outer_converted", "fx", "unit_factor", "tax", "cost")


def _inputs(s: Section) -> dict:
    raw = s.raw("inputs", {})
    if not isinstance(raw, dict):
        raise s.error("inputs", "expected a table of name = number", "e.g. inputs = { freight = 80 }")
    out = {}
    for k, v in raw.items():
        if k in FORMULA_NAMES or not k.isidentifier():
            raise s.error(f"inputs.{k}", "not a usable input name", f"avoid {', '.join(FORMULA_NAMES)}")
        try:
            out[k] = Decimal(str(v))
        except InvalidOperation:
            raise s.error(f"inputs.{k}", f"expected a number, got {v!r}", f"e.g. inputs = {{ {k} = 80 }}") from None
    return out


def _check_formula(s: Section, pc: PairConfig) -> None:
    if pc.formula in ("spread", "ratio"):
        return
    from xmc_fix.basis.formula import Formula, FormulaError
    try:
        Formula(pc.formula, allowed_names=set(FORMULA_NAMES) | set(pc.inputs))
    except FormulaError as e:
        raise s.error("formula", str(e), "spread, ratio, or arithmetic over "
                      f"{', '.join(FORMULA_NAMES + tuple(pc.inputs))}") from None


def _leg_orders(s: Section) -> dict:
    """Order type and time in force per leg; ``order_type``/``tif`` set both legs' defaults."""
    ot = s.str("order_type", "LIMIT", choices=("LIMIT", "MARKET"))
    tif = s.str("tif", "IOC", choices=("IOC", "FOK", "DAY"))
    out = {}
    for leg in ("inner", "outer"):
        out[f"{leg}_order_type"] = OrdType(s.str(f"{leg}_order_type", ot, choices=("LIMIT", "MARKET")))
        out[f"{leg}_tif"] = TimeInForce(s.str(f"{leg}_tif", tif, choices=("IOC", "FOK", "DAY")))
    return out


def _repair(file: str, pair: str, body) -> RepairPolicy:
    if not isinstance(body, dict):
        raise ConfigError("expected a table", file=file, key=f"pairs.{pair}.repair",
                          remedy=f"write it as [pairs.{pair}.repair]")
    r = Section(file, f"pairs.{pair}.repair", body)
    d = RepairPolicy()
    policy = RepairPolicy(
        mode=r.str("mode", d.mode, choices=("auto", "chase", "unwind", "halt")),
        chase_ticks=r.int("chase_ticks", d.chase_ticks, minimum=0),
        chase_attempts=r.int("chase_attempts", d.chase_attempts, minimum=0),
        chase_interval_ms=r.int("chase_interval_ms", d.chase_interval_ms, minimum=0),
        unwind_ticks=r.int("unwind_ticks", d.unwind_ticks, minimum=0),
        unwind_attempts=r.int("unwind_attempts", d.unwind_attempts, minimum=1),
        unwind_interval_ms=r.int("unwind_interval_ms", d.unwind_interval_ms, minimum=0),
        max_chase_cost=r.dec("max_chase_cost", None, nonneg=True),
        give_up_ms=r.int("give_up_ms", d.give_up_ms, minimum=1),
    )
    r.check_unknown()
    return policy


def _check_pair(s: Section, pc: PairConfig, instruments: dict[str, Instrument],
                fx: dict[str, FxSource]) -> None:
    i, o = instruments[pc.inner], instruments[pc.outer]
    if dimension(i.unit) != dimension(o.unit):
        raise s.error("outer", f"{o.unit} cannot be converted to {i.unit}",
                      "pair instruments of the same physical dimension")
    if i.currency != o.currency:
        if pc.fx is None:
            raise s.error("fx", f"missing: {o.currency} prices must be converted to {i.currency}",
                          "name an [fx.*] source")
        src = fx[pc.fx]
        if {src.base, src.quote} != {i.currency, o.currency}:
            raise s.error("fx", f"{pc.fx} quotes {src.base}/{src.quote}, the pair needs "
                          f"{o.currency} and {i.currency}", "point fx at the right currency pair")
    if pc.entry_above is None and pc.entry_below is None:
        raise s.error("entry_above", "no entry threshold", "set entry_above, entry_below or both")
    if pc.entry_above is not None:
        if pc.exit_above is None:
            raise s.error("exit_above", "missing (needed with entry_above)", "set the level to buy back at")
        if pc.exit_above >= pc.entry_above:
            raise s.error("exit_above", f"{pc.exit_above} is not below entry_above {pc.entry_above}",
                          "the exit must be on the near side of the entry (hysteresis)")
    if pc.entry_below is not None:
        if pc.exit_below is None:
            raise s.error("exit_below", "missing (needed with entry_below)", "set the level to sell back at")
        if pc.exit_below <= pc.entry_below:
            raise s.error("exit_below", f"{pc.exit_below} is not above entry_below {pc.entry_below}",
                          "the exit must be on the near side of the entry (hysteresis)")
    if pc.entry_above is not None and pc.entry_below is not None and pc.entry_below >= pc.entry_above:
        raise s.error("entry_below", f"{pc.entry_below} is not below entry_above {pc.entry_above}",
                      "buy the basis (entry_below) lower than you sell it (entry_above)")
    if pc.max_position < pc.ticket_qty:
        raise s.error("max_position", f"{pc.max_position} is below ticket_qty {pc.ticket_qty}",
                      "a single ticket would already breach it")
    if pc.live_max_qty is not None and pc.live_max_qty < pc.ticket_qty:
        problem = live_size_problem(pc, i, o, pc.live_max_qty)
        if problem is not None:
            raise s.error("live_max_qty", problem, "raise it to that size, or remove it (live tickets at ticket_qty)")
    for leg, inst in (("inner", i), ("outer", o)):
        lots = pc.ticket_qty / i.lots_to_units(Decimal(1), i.unit) if leg == "inner" else None
        if lots is not None and lots > inst.max_order_qty:
            raise s.error("ticket_qty", f"needs {lots} lots of {inst.name}, above its max_order_qty "
                          f"{inst.max_order_qty}", "lower ticket_qty or raise the instrument's limit")
