"""Risk: the pre-trade gate every order passes, trading states (ACTIVE / REDUCING / HALTED), limits,
alerts, and the post-trade monitor (breaches, stale data, market hours) that returns actions for the
engine to take."""
