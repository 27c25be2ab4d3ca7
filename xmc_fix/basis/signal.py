"""The decision rule, pure: the executable basis each way, the pair's position and its thresholds in,
a signal (direction, opening or closing, the threshold crossed) or nothing out.

- flat or short basis, and the basis one can sell at is at or above ``entry_above``: sell the basis
  (open); long basis and it is at or above ``exit_below``: sell it back (close);
- flat or long basis, and the basis one can buy at is at or below ``entry_below``: buy the basis
  (open); short basis and it is at or below ``exit_above``: buy it back (close).

Selling is looked at first. The engine applies the rule on the best levels as a screen and again at
the ticket's size (:func:`crosses`); ``xmc watch`` and ``xmc basis calc`` show what it says.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from xmc_fix.domain.enums import Direction, TicketIntent


@dataclass(frozen=True, slots=True)
class Signal:
    direction: Direction
    intent: TicketIntent
    threshold: Decimal
    key: str                 # the strategy key of the threshold crossed (entry_above, exit_below, ...)

    def describe(self) -> str:
        verb = "sell" if self.direction is Direction.SELL_BASIS else "buy"
        what = "open" if self.intent is TicketIntent.OPEN else "close"
        return f"{verb} basis ({what}: {self.key} {self.threshold} crossed)"


def decide(sell: Decimal | None, buy: Decimal | None, position: Decimal, cfg) -> Signal | None:
    """The signal for a pair (``cfg``: its thresholds) holding ``position`` (signed, long basis
    positive), given the basis it could sell at and the basis it could buy at (None: no price)."""
    if sell is not None:
        if position <= 0 and cfg.entry_above is not None and sell >= cfg.entry_above:
            return Signal(Direction.SELL_BASIS, TicketIntent.OPEN, cfg.entry_above, "entry_above")
        if position > 0 and cfg.exit_below is not None and sell >= cfg.exit_below:
            return Signal(Direction.SELL_BASIS, TicketIntent.CLOSE, cfg.exit_below, "exit_below")
    if buy is not None:
        if position >= 0 and cfg.entry_below is not None and buy <= cfg.entry_below:
            return Signal(Direction.BUY_BASIS, TicketIntent.OPEN, cfg.entry_below, "entry_below")
        if position < 0 and cfg.exit_above is not None and buy <= cfg.exit_above:
            return Signal(Direction.BUY_BASIS, TicketIntent.CLOSE, cfg.exit_above, "exit_above")
    return None


def crosses(direction: Direction, basis: Decimal, threshold: Decimal) -> bool:
    """Whether a basis (priced at the ticket's size) is still on the trading side of the threshold."""
    return basis >= threshold if direction is Direction.SELL_BASIS else basis <= threshold
