"""Physical units and their conversions, exact in Decimal.

Only units of the same dimension convert (mass to mass, volume to volume); anything else is a
configuration error caught at start-up, not a silent wrong basis.
"""

from __future__ import annotations

from decimal import Decimal

from xmc_fix.errors import ConfigError

#: unit -> (dimension, size of one unit in the dimension's base unit: tonne, barrel, tonne)
UNITS: dict[str, tuple[str, Decimal]] = {
    "t": ("mass", Decimal(1)),
    "kg": ("mass", Decimal("0.001")),
    "lb": ("mass", Decimal("0.00045359237")),      # international avoirdupois pound, exact
    "oz": ("mass", Decimal("0.0000311034768")),    # troy ounce, exact
    "bbl": ("volume", Decimal(1)),
    "m3": ("volume", Decimal(1) / Decimal("0.158987294928")),
    "unit": ("count", Decimal(1)),                 # FX and other dimensionless instruments
}


def dimension(unit: str) -> str:
    try:
        return UNITS[unit][0]
    except KeyError:
        raise ConfigError(f"unknown unit {unit!r}", remedy=f"use one of {', '.join(UNITS)}") from None


def quantity_factor(from_unit: str, to_unit: str) -> Decimal:
    """How many ``to_unit`` make one ``from_unit`` (1 t -> 2204.62... lb)."""
    d_from, size_from = UNITS[from_unit] if from_unit in UNITS else (dimension(from_unit), None)
    d_to, size_to = UNITS[to_unit] if to_unit in UNITS else (dimension(to_unit), None)
    if d_from != d_to:
        raise ConfigError(f"cannot convert {from_unit} ({d_from}) to {to_unit} ({d_to})",
                          remedy="pair instruments of the same physical dimension")
    return size_from / size_to


def price_factor(from_unit: str, to_unit: str) -> Decimal:
    """Multiply a price per ``from_unit`` by this to get the price per ``to_unit``
    (USD/lb -> USD/t is x 2204.62...)."""
    return quantity_factor(to_unit, from_unit)
