"""Instruments (a contract at a venue) and the quantity arithmetic that depends on them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from xmc_fix.domain.enums import Side
from xmc_fix.domain.units import quantity_factor


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable contract. Quantities on the wire are in lots; ``contract_size`` converts a lot
    into ``unit`` (5 t for SHFE copper, 25,000 lb for COMEX HG)."""

    name: str
    venue: str
    symbol: str
    currency: str
    contract_size: Decimal
    unit: str
    tick: Decimal
    security_id: str | None = None
    lot_step: Decimal = Decimal(1)
    min_qty: Decimal = Decimal(1)
    max_order_qty: Decimal = Decimal(1000)
    position_effect: bool = False
    calendar: str | None = None

    def lots_to_units(self, lots: Decimal, unit: str | None = None) -> Decimal:
        """Underlying quantity of ``lots`` contracts, in ``unit`` (default: the contract's unit)."""
        units = lots * self.contract_size
        if unit is None or unit == self.unit:
            return units
        return units * quantity_factor(self.unit, unit)

    def round_price(self, price: Decimal, side: Side) -> Decimal:
        """Round a limit price onto the tick grid on the passive side: a buy never pays more than
        asked, a sell never accepts less."""
        steps = price / self.tick
        steps = steps.to_integral_value(ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)
        # quantize to the tick's decimal places, but never to a positive exponent: a tick written
        # "1E+1" would otherwise give prices like "7.123E+4"
        places = self.tick if self.tick.as_tuple().exponent <= 0 else Decimal(1)
        return (steps * self.tick).quantize(places)

    def on_tick(self, price: Decimal) -> bool:
        return price % self.tick == 0

    def valid_qty(self, qty: Decimal) -> bool:
        return qty >= self.min_qty and qty % self.lot_step == 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.venue, self.symbol)
