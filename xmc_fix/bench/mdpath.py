"""What one incremental refresh costs in Python, without QuickFIX and without sockets: xmc_fix's
decoder and engine (RptSeq check, book, venue-clock freshness, the pair's evaluation) against the
plain script's handler (:meth:`xmc_fix.bench.plain.PairTrader.on_market_data`), on the same
refresh texts, in one process, one after the other.

Run as ``xmc bench --md-path`` (or ``python -m xmc_fix.bench.mdpath [REFRESHES]``). The refreshes are what ``xmc bench``'s flood
sends (two bid levels of one instrument change size; nothing crosses), so the engine's evaluation
takes its early exit as it does for most market data. Each figure is the mean per refresh of the
fastest of five passes (the others were slowed by something else on the machine), in microseconds;
the ratio is xmc_fix's against the plain script's of the same run. The flood stage of ``xmc bench``
measures the whole path (QuickFIX's parse and validation, the SWIG callback, the audit); this
isolates the part that is ours to make faster.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal as D
from pathlib import Path

from xmc_fix.audit.null import NullAudit
from xmc_fix.clock import ManualClock
from xmc_fix.config import load_strategy
from xmc_fix.domain.events import BookSnapshot, SessionUp
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.execution.engine import Engine
from xmc_fix.fixwire import SOH, format_utc
from xmc_fix.venues import translate as tr

STRATEGY = Path(__file__).resolve().parents[2] / "sessions" / "strategy.toml"
PASSES = 5


class _Sender:
    """Orders go nowhere (none are decided: nothing crosses)."""

    def is_up(self, venue: str) -> bool:
        return True

    def send_new(self, cmd, now_ns: int) -> bool:
        return True

    send_cancel = send_new

    def send_status(self, cmd) -> bool:
        return True

    subscribe = send_status


def refreshes(n: int, start_ns: int) -> list[str]:
    """``n`` refreshes of SHFE copper's two best bids, RptSeq per entry following a snapshot at 1."""
    out = []
    for k in range(n):
        size = str(100 + k % 7)
        body = (f"35=X{SOH}49=SHFE{SOH}56=XMC{SOH}34={k + 10}{SOH}52={format_utc(start_ns + k * 1000)}{SOH}"
                f"262=R1{SOH}268=2{SOH}"
                f"279=1{SOH}269=0{SOH}55=CU{SOH}270=77290{SOH}271={size}{SOH}83={2 + 2 * k}{SOH}"
                f"279=1{SOH}269=0{SOH}55=CU{SOH}270=77280{SOH}271={size}{SOH}83={3 + 2 * k}{SOH}")
        out.append(f"8=FIX.4.4{SOH}9={len(body)}{SOH}{body}10=000{SOH}")
    return out


def _engine(clock: ManualClock) -> Engine:
    eng = Engine(load_strategy(STRATEGY), _Sender(), NullAudit("bench"), clock, IdGenerator("B", 1))
    for venue in ("SHFE", "LME", "CNHFX"):
        eng.on_event(SessionUp(venue, clock.now_ns()))
    return eng


def _book(eng: Engine, venue: str, symbol: str, bid: str, ask: str, now_ns: int) -> None:
    eng.on_event(BookSnapshot(venue, symbol, ((D(bid), D(100)), (D(bid) - 10, D(100))), ((D(ask), D(100)),),
                              1, now_ns, now_ns))


def measure(n: int = 20_000) -> dict:
    from xmc_fix.bench.plain import PairTrader
    clock = ManualClock(time.time_ns())
    eng = _engine(clock)
    now = clock.now_ns()
    _book(eng, "CNHFX", "USD/CNH", "7.1999", "7.2001", now)
    _book(eng, "LME", "CA", "9500", "9501", now)
    raws = refreshes(n, now)
    ctx = tr.Inbound()
    decode, on_event = tr.decode_incremental, eng.on_event
    plain = PairTrader([], {})
    out: dict[str, list[float]] = {"decode_us": [], "engine_us": [], "plain_us": []}
    for _ in range(PASSES):
        _book(eng, "SHFE", "CU", "77290", "77300", now)     # RptSeq back to 1
        t = time.perf_counter()
        for raw in raws:
            decode("SHFE", raw, now, ctx)
        out["decode_us"].append((time.perf_counter() - t) / n * 1e6)
        t = time.perf_counter()
        for raw in raws:
            for upd in decode("SHFE", raw, now, ctx):
                on_event(upd)
        out["engine_us"].append((time.perf_counter() - t) / n * 1e6)
        t = time.perf_counter()
        for raw in raws:
            plain.on_market_data("SHFE", "X", raw)
        out["plain_us"].append((time.perf_counter() - t) / n * 1e6)
    book = eng.state.books[("SHFE", "CU")]
    if not book.valid or book.rpt_seq != 1 + 2 * n:
        raise RuntimeError("bench: the refreshes did not all apply")
    best = {k: round(min(v), 2) for k, v in out.items()}
    return {"refreshes": n, "passes": PASSES, **best,
            "ratio_to_plain": round(best["engine_us"] / best["plain_us"], 2)}


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 20_000
    r = measure(n)
    print(f"one incremental refresh (2 entries), in-process, mean of the fastest of {r['passes']} passes "
          f"of {r['refreshes']}:")
    print(f"  xmc_fix decode only            {r['decode_us']:8.2f} us")
    print(f"  xmc_fix decode + engine        {r['engine_us']:8.2f} us")
    print(f"  plain script's handler         {r['plain_us']:8.2f} us")
    print(f"  xmc_fix / plain                {r['ratio_to_plain']:8.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
