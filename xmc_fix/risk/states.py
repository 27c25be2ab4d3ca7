"""Trading states, per pair and global: ACTIVE, REDUCING, HALTED.

A scope (a pair, or everything) holds a set of *holds*, each with a level (REDUCING or HALTED), a
reason and whether it is sticky. The state is the most restrictive hold, ACTIVE when there is none.

- Sticky holds come from an operator (`xmc halt`) or a breach (limit, reject-rate or latency spike,
  failed repair, daily loss, a repair loop): only an operator's RESUME clears them. There is one per
  key (a breach's kind; "HALT"/"REDUCE" for a halt without one) until then: a breach repeated on
  every order while above its limit is the same hold, not a new one each time.
- Automatic holds come from conditions (a venue session down, stale market data) and clear
  themselves when the condition does (CLEAR with the same key); RESUME does not clear them, since
  the condition is still there.

The effect of each trigger on the holds is a table (:data:`HOLD_EFFECTS`); an unknown trigger or a
bad argument raises :class:`IllegalTransition`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from xmc_fix.domain.enums import TradingState
from xmc_fix.errors import IllegalTransition

LEVEL = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_BY_LEVEL = {v: k for k, v in LEVEL.items()}


class StateTrigger(enum.Enum):
    HALT = "HALT"                # sticky HALTED hold
    REDUCE = "REDUCE"            # sticky REDUCING hold
    RESUME = "RESUME"            # clear every sticky hold
    AUTO_HALT = "AUTO_HALT"      # automatic HALTED hold under a key
    AUTO_REDUCE = "AUTO_REDUCE"  # automatic REDUCING hold under a key
    CLEAR = "CLEAR"              # clear the automatic hold under a key


#: trigger -> (adds a hold of this level or None, sticky, clears sticky holds, clears the keyed hold)
HOLD_EFFECTS: dict[StateTrigger, tuple[TradingState | None, bool, bool, bool]] = {
    StateTrigger.HALT: (TradingState.HALTED, True, False, False),
    StateTrigger.REDUCE: (TradingState.REDUCING, True, False, False),
    StateTrigger.RESUME: (None, False, True, False),
    StateTrigger.AUTO_HALT: (TradingState.HALTED, False, False, False),
    StateTrigger.AUTO_REDUCE: (TradingState.REDUCING, False, False, False),
    StateTrigger.CLEAR: (None, False, False, True),
}


@dataclass(frozen=True, slots=True)
class Hold:
    key: str
    level: TradingState
    sticky: bool
    reason: str
    since_ns: int


@dataclass(frozen=True, slots=True)
class StateChange:
    scope: str
    from_state: TradingState
    to_state: TradingState
    trigger: StateTrigger
    reason: str
    ts_ns: int


@dataclass
class ScopeState:
    scope: str                       # a pair's name, or "global"
    holds: dict[str, Hold] = field(default_factory=dict)
    state: TradingState = TradingState.ACTIVE   # kept in step with the holds (read on every tick)

    def _derive(self) -> TradingState:
        level = max((LEVEL[h.level] for h in self.holds.values()), default=0)
        return _BY_LEVEL[level]

    def state_without(self, key: str) -> TradingState:
        """The state the other holds alone would give (what one hold lets through that another does not)."""
        level = max((LEVEL[h.level] for k, h in self.holds.items() if k != key), default=0)
        return _BY_LEVEL[level]

    @property
    def reason(self) -> str:
        if not self.holds:
            return ""
        top = max(self.holds.values(), key=lambda h: (LEVEL[h.level], h.since_ns))
        return top.reason

    def apply(self, trigger: StateTrigger, ts_ns: int, reason: str = "", key: str | None = None) -> StateChange | None:
        """Apply a trigger; a :class:`StateChange` when the state changed, else ``None``."""
        try:
            level, sticky, clear_sticky, clear_key = HOLD_EFFECTS[trigger]
        except KeyError:
            raise IllegalTransition(f"trading state {self.scope}", self.state, trigger) from None
        if (level is not None and not sticky or clear_key) and not key:
            raise IllegalTransition(f"trading state {self.scope} (automatic holds need a key)", self.state, trigger)
        before = self.state
        if clear_sticky:
            self.holds = {k: h for k, h in self.holds.items() if not h.sticky}
        if clear_key:
            self.holds.pop(key, None)
        if level is not None:
            hold_key = key if not sticky else f"sticky:{key or trigger.value}"
            if hold_key in self.holds:
                return None  # the same condition or breach again: nothing new until it clears
            self.holds[hold_key] = Hold(hold_key, level, sticky, reason, ts_ns)
        after = self.state = self._derive()
        if after is before:
            return None
        return StateChange(self.scope, before, after, trigger, reason or self.reason, ts_ns)


def effective(*states: TradingState) -> TradingState:
    """The most restrictive of several scopes' states (a pair under a global halt is halted)."""
    return max(states, key=LEVEL.__getitem__)
