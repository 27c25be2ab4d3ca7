"""Venue dialects: what a venue's FIX accepts beyond the version it names.

Two venues that both say ``FIX.4.4`` still differ: a Chinese futures broker gateway wants
PositionEffect (77) on every order, with ``T`` close today and ``Y`` close yesterday because its
exchange keeps today's and earlier positions apart, and a HedgeFlag (9001); a plain FIX 4.4 venue
knows only ``O`` and ``C`` and would reject ``T``. A :class:`Dialect` says these things once per
venue style, and each session names its dialect with ``Dialect=NAME`` next to ``Venue=`` in the
session file (default: the plain dialect of its BeginString). The translation to wire text
(:mod:`xmc_fix.venues.translate`) takes the session's dialect; the engine can ask it whether closes
must be split by the day a position was opened (:attr:`Dialect.closes_by_day`).

A new dialect is one entry in :data:`DIALECTS` (and the parametrised tests cover it). This module
holds facts only: it does not render messages and does not read files (the session file's keys are
checked in :mod:`xmc_fix.venues.settings`, through :func:`for_session`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from xmc_fix.domain.enums import ExecType, PositionEffect
from xmc_fix.errors import ConfigError

#: QuickFIX's own precision when a session sets neither TimestampPrecision nor MillisecondsInTimeStamp.
QUICKFIX_DEFAULT_DIGITS = 3


@dataclass(frozen=True, slots=True)
class OrderTag:
    """An extra tag the dialect puts on every NewOrderSingle and replace, with its session key."""

    tag: int
    key: str                        # the session-file key that overrides the default, e.g. HedgeFlag
    default: str
    values: Mapping[str, str]       # allowed wire value -> meaning


@dataclass(frozen=True, slots=True, eq=False)
class Dialect:
    """One venue style. ``eq=False``: a dialect is the object it is (hashed by identity, cheap as a
    cache key on the order path)."""

    name: str
    summary: str
    begin_string: str
    #: the dictionary under fixspecs/ that describes what the venue accepts (a session may use its own)
    dictionary: str
    #: domain PositionEffect -> the value sent in 77; a venue without close-today gets CLOSE for it
    position_effects: Mapping[PositionEffect, str]
    #: every order carries 77 (the engine must give one; the venue rejects an order without it)
    position_effect_required: bool = False
    #: closes are split by the day the position was opened (close today / close yesterday)
    closes_by_day: bool = False
    order_tags: tuple[OrderTag, ...] = ()
    #: (tag, value) the dialect adds to every NewOrderSingle and replace: fixed ones, then those of
    #: ``order_tags`` as this session sets them (:func:`for_session`)
    order_values: tuple[tuple[int, str], ...] = ()
    #: the most fraction digits of a second the venue takes in a UTCTimestamp
    max_timestamp_digits: int = 3
    #: fraction digits of the timestamps we send (the session's TimestampPrecision, as QuickFIX's own)
    timestamp_digits: int = QUICKFIX_DEFAULT_DIGITS
    #: ExecType (150) codes this version uses beyond FIX 4.4's, e.g. FIX 4.2's fills
    extra_exec_types: Mapping[str, ExecType] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    def __copy__(self) -> "Dialect":
        return self     # immutable: a copied session file shares its dialects

    def __deepcopy__(self, memo) -> "Dialect":
        return self

    def wire_position_effect(self, pe: PositionEffect) -> str:
        return self.position_effects[pe]

    @property
    def accepted_position_effects(self) -> frozenset[str]:
        return frozenset(self.position_effects.values())


_OPEN_CLOSE = MappingProxyType({PositionEffect.OPEN: "O", PositionEffect.CLOSE: "C",
                                PositionEffect.CLOSE_TODAY: "C", PositionEffect.CLOSE_YESTERDAY: "C"})
_BY_DAY = MappingProxyType({PositionEffect.OPEN: "O", PositionEffect.CLOSE: "C",
                            PositionEffect.CLOSE_TODAY: "T", PositionEffect.CLOSE_YESTERDAY: "Y"})
HEDGE_FLAG = OrderTag(9001, "HedgeFlag", "1",
                      MappingProxyType({"1": "speculation", "2": "arbitrage", "3": "hedge"}))

FIX42 = Dialect(
    "FIX42", "plain FIX 4.2: OpenClose (77) O/C, HandlInst (21) 1 on orders (required in 4.2), timestamps "
             "to the millisecond, fills as ExecType 1/2",
    "FIX.4.2", "FIX42.xml", _OPEN_CLOSE, order_values=((21, "1"),), max_timestamp_digits=3,
    extra_exec_types=MappingProxyType({"1": ExecType.TRADE, "2": ExecType.TRADE}))
FIX44 = Dialect(
    "FIX44", "plain FIX 4.4: PositionEffect (77) O/C only (close today and yesterday are sent as C)",
    "FIX.4.4", "FIX44-XMC.xml", _OPEN_CLOSE, max_timestamp_digits=9)
SHFE = Dialect(
    "SHFE", "SHFE/INE broker gateway, FIX 4.4: PositionEffect O/C/T close today/Y close yesterday, "
            "required on orders; closes split by open day; HedgeFlag (9001) on orders",
    "FIX.4.4", "FIX44-SHFE.xml", _BY_DAY, position_effect_required=True, closes_by_day=True, order_tags=(HEDGE_FLAG,),
    order_values=((HEDGE_FLAG.tag, HEDGE_FLAG.default),), max_timestamp_digits=6)

#: Every dialect by the name a session file uses.
DIALECTS: Mapping[str, Dialect] = MappingProxyType({d.name: d for d in (FIX42, FIX44, SHFE)})
#: The dialect of a session that names none.
DEFAULT_FOR_BEGIN: Mapping[str, Dialect] = MappingProxyType({"FIX.4.2": FIX42, "FIX.4.4": FIX44})
#: Session-file keys the dialects read (besides Dialect itself).
SESSION_KEYS = frozenset({"Dialect"} | {t.key for d in DIALECTS.values() for t in d.order_tags})


def for_session(values: Mapping[str, str], where: str | None = None) -> Dialect:
    """The dialect a session's settings name, as that session uses it (its timestamp precision
    and order tag values). Raises :class:`ConfigError` naming ``where`` and the key."""
    begin = values.get("BeginString", "")
    name = values.get("Dialect")
    if name is None:
        base = DEFAULT_FOR_BEGIN.get(begin)
        if base is None:
            raise ConfigError(f"no default dialect for BeginString={begin}", file=where, key="Dialect",
                              remedy=f"name one: Dialect={' | '.join(DIALECTS)}")
    else:
        base = DIALECTS.get(name)
        if base is None:
            raise ConfigError(f"unknown dialect {name!r}", file=where, key="Dialect",
                              remedy=f"known dialects: {', '.join(DIALECTS)}")
        if base.begin_string != begin:
            raise ConfigError(f"dialect {name} speaks {base.begin_string}, the session BeginString={begin}",
                              file=where, key="Dialect",
                              remedy=f"set BeginString={base.begin_string} or choose another dialect")
    digits = _digits(values, base, where)
    configurable = {t.tag for t in base.order_tags}
    order_values = [tv for tv in base.order_values if tv[0] not in configurable]
    for t in base.order_tags:
        v = values.get(t.key, t.default)
        if v not in t.values:
            raise ConfigError(f"{v!r} is not a {t.key} value", file=where, key=t.key,
                              remedy="one of " + ", ".join(f"{k} ({m})" for k, m in t.values.items()))
        order_values.append((t.tag, v))
    for key in SESSION_KEYS - {"Dialect"}:
        if key in values and key not in {t.key for t in base.order_tags}:
            raise ConfigError(f"dialect {base.name} sends no {key}", file=where, key=key,
                              remedy="remove it, or name a dialect that uses it (Dialect=SHFE)")
    if digits == base.timestamp_digits and tuple(order_values) == base.order_values:
        return base
    return dataclasses.replace(base, timestamp_digits=digits, order_values=tuple(order_values))


def _digits(values: Mapping[str, str], base: Dialect, where: str | None) -> int:
    """The session's timestamp precision as QuickFIX reads it: TimestampPrecision wins over
    MillisecondsInTimeStamp (Y: 3, N: 0); neither: QuickFIX's default."""
    text = values.get("TimestampPrecision")
    if text is None:
        ms = values.get("MillisecondsInTimeStamp")
        digits = QUICKFIX_DEFAULT_DIGITS if ms is None or ms == "Y" else 0
    elif text.isdigit() and int(text) <= 9:
        digits = int(text)
    else:
        raise ConfigError(f"{text!r} is not a number of digits", file=where, key="TimestampPrecision",
                          remedy="0 (seconds), 3 (milliseconds), 6 (microseconds) or 9 (nanoseconds)")
    if digits > base.max_timestamp_digits:
        raise ConfigError(f"dialect {base.name} takes at most {base.max_timestamp_digits} fraction digits, "
                          f"TimestampPrecision={digits}", file=where, key="TimestampPrecision",
                          remedy=f"set TimestampPrecision={base.max_timestamp_digits} or less")
    return min(digits, base.max_timestamp_digits)
