"""Stub factories and recorders shared by the simulator's unit tests: a small two-venue market, the
exchange's outlet as a recorder, a scheduler the test drives, and client messages as QuickFIX hands
them to the exchange. Every field is overridable."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

from xmc_fix.basis.formula import Formula
from xmc_fix.clock import ManualClock
from xmc_fix import fixwire as fw
from xmc_fix.domain.enums import Side
from xmc_fix.sim.behaviour import load_scenario
from xmc_fix.sim.config import FactorCfg, MarketCfg, MarketMakerCfg, SimInstrumentCfg, SimVenueCfg
from xmc_fix.sim.exchange import Exchange

ROOT = Path(__file__).resolve().parents[3]
SIM_MARKET = ROOT / "sessions" / "sim_market.toml"
SHFE_DD = ROOT / "fixspecs" / "FIX44-SHFE.xml"
SOH = "\x01"
C1, C2 = "FIX.4.4:SHFE->C1", "FIX.4.4:SHFE->C2"
TERMINAL = {"2", "4", "8"}


# -- stub factories ----------------------------------------------------------------------------
def make_instrument(venue: str = "SHFE", symbol: str = "CU", **overrides) -> SimInstrumentCfg:
    """SHFE copper with a constant fair value of 80000 and market makers quoting three levels of
    5 lots a side: bids 79990 / 79980 / 79970, asks 80010 / 80020 / 80030."""
    fields = dict(venue=venue, symbol=symbol, security_id=None, currency="CNY", contract_size=D(5), unit="t",
                  tick=D(10), lot_step=D(1), min_qty=D(1), max_qty=D(500),
                  fair=Formula("copper", number=float, allowed_names={"copper", "lme"}), noise=0.0,
                  mm=MarketMakerCfg(levels=3, half_spread_ticks=1, gap_ticks=1, size_min=5, size_max=5))
    return SimInstrumentCfg(**{**fields, **overrides})


def make_market(**overrides) -> MarketCfg:
    """SHFE (open/close venue) trading CU, and LME (no position effect) trading CA around 9500."""
    lme = make_instrument("LME", "CA", currency="USD", contract_size=D(25), tick=D("0.5"), max_qty=D(200),
                          fair=Formula("lme", number=float, allowed_names={"copper", "lme"}))
    fields = dict(path="test-market.toml", seed=1, step_ms=100, depth=5,
                  factors={"copper": FactorCfg("copper", "walk", 80000.0),
                           "lme": FactorCfg("lme", "walk", 9500.0)},
                  venues={"SHFE": SimVenueCfg("SHFE", True, {"CU": make_instrument()}),
                          "LME": SimVenueCfg("LME", False, {"CA": lme})})
    return MarketCfg(**{**fields, **overrides})


@dataclass(frozen=True)
class Sent:
    session: str
    text: str
    needs_dd: bool

    @property
    def fields(self) -> dict[str, str]:
        return fw.fields(self.text)

    @property
    def msg_type(self) -> str:
        return self.fields["35"]


class RecordingSend:
    """The exchange's outlet: remembers every message instead of handing it to QuickFIX."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def __call__(self, session: str, text: str, needs_dd: bool) -> bool:
        self.sent.append(Sent(session, text, needs_dd))
        return True

    def take(self, session: str | None = None) -> list[Sent]:
        """The messages sent since the last take (to ``session`` only, if given)."""
        out = [s for s in self.sent if session is None or s.session == session]
        self.sent.clear()
        return out


def make_exchange(market: MarketCfg | None = None, clock: ManualClock | None = None, *, behaviours=None,
                  drop_copies=None, schedule=None, begin_string=None, quiet=None):
    send = RecordingSend()
    ex = Exchange(market or make_market(), send, clock or ManualClock(), begin_string, behaviours=behaviours,
                  schedule=schedule, drop_copies=drop_copies, quiet=quiet)
    return ex, send


class ManualScheduler:
    """The exchange's timers, run when the test moves the clock on (:meth:`advance`)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._timers: list = []
        self._seq = 0

    def __call__(self, delay_s: float, fn, *args) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (self.clock.now_ns() + int(delay_s * 1e9), self._seq, fn, args))

    def advance(self, ms: float) -> None:
        """Move the clock ``ms`` on, running every timer due on the way at its own time."""
        end = self.clock.now_ns() + int(ms * 1e6)
        while self._timers and self._timers[0][0] <= end:
            due, _, fn, args = heapq.heappop(self._timers)
            self.clock.advance(max(0, due - self.clock.now_ns()))
            fn(*args)
        self.clock.advance(max(0, end - self.clock.now_ns()))

    @property
    def pending(self) -> int:
        return len(self._timers)


def scenario(tmp_path: Path, text: str, market: MarketCfg | None = None) -> dict:
    """Behaviours per venue from scenario TOML ``text`` for ``market`` (the stub market by default)."""
    p = tmp_path / "scenario.toml"
    p.write_text(text)
    return load_scenario(str(p), market or make_market(), search_dir=tmp_path)


def wire(msg_type: str, *pairs: tuple[str, str | None]) -> str:
    """Message text as QuickFIX's ``toString`` gives it to the exchange (pairs with None omitted)."""
    body = "".join(f"{t}={v}{SOH}" for t, v in pairs if v is not None)
    return f"8=FIX.4.4{SOH}9={len(body)}{SOH}35={msg_type}{SOH}49=XMC{SOH}56=SHFE{SOH}{body}10=000{SOH}"


def new_order(cl: str = "A1", *, symbol: str = "CU", side: str = "1", qty: str = "5", price: str | None = "80010",
              ord_type: str = "2", tif: str = "3", pe: str | None = "O", account: str | None = "ACC1") -> str:
    return wire("D", ("11", cl), ("1", account), ("55", symbol), ("54", side), ("38", qty), ("40", ord_type),
                ("44", price), ("59", tif), ("77", pe))


def cancel(cl: str, orig: str, *, symbol: str = "CU", side: str = "1") -> str:
    return wire("F", ("41", orig), ("11", cl), ("55", symbol), ("54", side), ("38", "5"))


def replace(cl: str, orig: str, *, qty: str, price: str | None, symbol: str = "CU", side: str = "1",
            pe: str | None = "O") -> str:
    return wire("G", ("41", orig), ("11", cl), ("1", "ACC1"), ("55", symbol), ("54", side), ("38", qty),
                ("40", "2"), ("44", price), ("59", "0"), ("77", pe))


def status_request(cl: str, *, order_id: str | None = None) -> str:
    return wire("H", ("37", order_id), ("11", cl), ("55", "CU"), ("54", "1"))


def mass_status_request(req: str = "MS1", scope: str = "7", **fields: str | None) -> str:
    """OrderMassStatusRequest (AF); ``fields`` by tag name: account, symbol, security_id, side."""
    tags = {"account": "1", "symbol": "55", "security_id": "48", "side": "54"}
    return wire("AF", ("584", req), ("585", scope), *((tags[k], v) for k, v in fields.items()))


def positions_request(req: str = "PR1", account: str = "ACC1", *, req_type: str = "0", symbol: str | None = None,
                      subscription: str | None = None) -> str:
    """RequestForPositions (AN) for one account."""
    return wire("AN", ("710", req), ("724", req_type), ("263", subscription), ("1", account), ("581", "1"),
                ("55", symbol), ("715", "20240102"), ("60", "20240102-03:04:05.000"))


def md_request(req: str = "M1", *symbols: str, kind: str = "1") -> str:
    syms = symbols or ("CU",)
    return wire("V", ("262", req), ("263", kind), ("264", "5"), ("265", "1"), ("267", "2"), ("269", "0"),
                ("269", "1"), ("146", str(len(syms))), *(("55", s) for s in syms))


def reports(sent: list[Sent], cl_ord_ids: set[str] | None = None) -> list[dict[str, str]]:
    """The ExecutionReports among ``sent`` (for the given ClOrdIDs), as field dicts."""
    out = [s.fields for s in sent if s.msg_type == "8"]
    return [r for r in out if cl_ord_ids is None or r["11"] in cl_ord_ids]


def assert_reports_consistent(rs: list[dict[str, str]]) -> None:
    """One order's reports: CumQty is the sum of LastQty so far, LeavesQty what is left of
    OrderQty while the order works, AvgPx the volume-weighted LastPx."""
    cum = notional = D(0)
    for r in rs:
        if r["150"] == "F":
            cum += D(r["32"])
            notional += D(r["32"]) * D(r["31"])
        assert D(r["14"]) == cum, r
        leaves = D(0) if r["39"] in TERMINAL else D(r["38"]) - cum
        assert D(r["151"]) == leaves, r
        assert D(r["6"]) == (notional / cum if cum else 0), r
    assert len({r["17"] for r in rs}) == len(rs), "ExecIDs must be unique"


def levels(ex: Exchange, venue: str = "SHFE", symbol: str = "CU", depth: int = 5):
    book = ex.venues[venue].instruments[symbol].book
    return book.levels(Side.BUY, depth), book.levels(Side.SELL, depth)


def position(ex: Exchange, venue: str = "SHFE", account: str = "ACC1", symbol: str = "CU"):
    return ex.venues[venue].positions[(account, symbol)]


