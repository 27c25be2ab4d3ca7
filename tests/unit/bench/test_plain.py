"""The plain peer trades what its books say: the benchmark compares like with like only if the
plain script sends the same two orders on the same ticks as xmc_fix (its sends recorded, no session)."""

from __future__ import annotations

import quickfix as fix

from xmc_fix.bench.plain import PairTrader, _sending_ns, settings_text
from xmc_fix.bench.tickserver import MARK0, cross_entries
from xmc_fix.fixwire import SOH

PAIR = {"name": "P1", "inner": ["V1", "S1"], "outer": ["V2", "S1"], "qty": 1, "entry_above": 100,
        "exit_above": 5, "entry_below": -100, "exit_below": -5, "slippage": 1.0}


class Recorded(PairTrader):
    def __init__(self) -> None:
        super().__init__([PAIR], {"V1": ["S1"], "V2": ["S1"]})
        self.sent: list[tuple] = []

    def send(self, instrument, side, qty, price):
        self.sent.append((tuple(instrument), side, qty, price))


def snapshot(symbol: str) -> str:
    levels = "".join(f"269=0{SOH}270={999.5 - k * 0.5}{SOH}271=1000{SOH}269=1{SOH}270={1000.5 + k * 0.5}{SOH}"
                     f"271=1000{SOH}" for k in range(5))
    return f"8=FIX.4.4{SOH}35=W{SOH}262=R{SOH}55={symbol}{SOH}268=10{SOH}{levels}10=000{SOH}"


def incremental(symbol: str, entries) -> str:
    body = "".join(f"279={a}{SOH}269={s}{SOH}55={symbol}{SOH}270={p}{SOH}271={q}{SOH}83=2{SOH}"
                   for a, s, p, q in entries)
    return f"8=FIX.4.4{SOH}35=X{SOH}262=R{SOH}268={len(entries)}{SOH}{body}10=000{SOH}"


def flat_trader() -> Recorded:
    t = Recorded()
    t.on_market_data("V1", "W", snapshot("S1"))
    t.on_market_data("V2", "W", snapshot("S1"))
    return t


def test_a_flat_market_sends_nothing():
    t = flat_trader()

    assert t.sent == [] and t.position == {"P1": 0}


def test_the_tick_servers_crossing_sends_both_legs_and_its_revert_closes_them():
    t = flat_trader()

    t.on_market_data("V1", "X", incremental("S1", cross_entries(True, MARK0)))
    assert t.sent == [(("V1", "S1"), fix.Side_SELL, 1, 1199.0), (("V2", "S1"), fix.Side_BUY, 1, 1001.5)]
    assert t.position == {"P1": -1}

    t.on_market_data("V1", "X", incremental("S1", cross_entries(False, MARK0 + 1)))
    assert t.sent[2:] == [(("V1", "S1"), fix.Side_BUY, 1, 1001.5), (("V2", "S1"), fix.Side_SELL, 1, 998.5)]
    assert t.position == {"P1": 0}


def test_a_refresh_that_does_not_cross_sends_nothing_however_many_come():
    t = flat_trader()

    for k in range(20):
        t.on_market_data("V1", "X", incremental("S1", [("1", "0", "999.5", str(1000 + k)), ("1", "0", "999.0", "5")]))

    assert t.sent == [] and t.books[("V1", "S1")][0][999.5] == 1019.0


def test_the_crossing_marks_the_level_it_moves_to_the_top():
    cross, revert = cross_entries(True, MARK0 + 7), cross_entries(False, MARK0 + 8)

    assert ("0", "0", "1200", str(MARK0 + 7)) in cross
    assert ("0", "1", "1000.5", str(MARK0 + 8)) in revert
    assert all(q != str(MARK0) for *_, q in cross_entries(True))


def test_sending_time_is_read_to_the_microsecond():
    assert _sending_ns("20260101-00:00:01.000250") == 1767225601_000250000
    assert _sending_ns("20260101-00:00:01") == 1767225601_000000000


def test_the_sessions_are_configured_as_quickfixs_examples_with_the_file_store():
    text = settings_text({"V1": 5001}, "/tmp/store", "/tmp/spec.xml")

    assert "FileStorePath=/tmp/store" in text and "SocketNodelay=Y" in text
    assert "TargetCompID=V1" in text and "SocketConnectPort=5001" in text
    assert "PersistMessages" not in text and "ResetOnLogon" not in text     # QuickFIX's defaults
