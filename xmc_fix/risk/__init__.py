"""Pre-trade risk: one gate every order passes, trading states, and (issue 5) limits and alerts."""
