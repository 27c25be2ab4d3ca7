"""One narrow exception tree rooted at :class:`XmcError`.

Errors that reach the command line carry enough to act on: a :class:`ConfigError` names the file,
the key and the remedy, and the CLI turns it into one line and exit code 2.
"""

from __future__ import annotations


class XmcError(Exception):
    """Root of every error raised on purpose by xmc_fix."""


class ConfigError(XmcError):
    """A configuration file or option is missing, malformed or inconsistent.

    ``str()`` gives the one line the CLI prints: ``file: key: problem (remedy)``.
    """

    def __init__(self, problem: str, *, file: str | None = None, key: str | None = None,
                 remedy: str | None = None) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        self.remedy = remedy
        super().__init__(self.line())

    def line(self) -> str:
        parts = [p for p in (self.file, self.key) if p]
        text = ": ".join(parts + [self.problem])
        if self.remedy:
            text += f" ({self.remedy})"
        return text


class CredentialsError(ConfigError):
    """Credentials for a venue are missing or stored somewhere they must not be."""


class UnknownInstrumentError(XmcError):
    """A venue/symbol or instrument name that the configuration does not define."""


class IllegalTransition(XmcError):
    """A state machine was asked for a transition its table does not allow."""

    def __init__(self, machine: str, state: object, trigger: object) -> None:
        self.machine = machine
        self.state = state
        self.trigger = trigger
        super().__init__(f"{machine}: no transition from {state} on {trigger}")


class FixTranslationError(XmcError):
    """A FIX message could not be translated into a domain event (missing or bad field).

    ``missing`` tells a tag that is absent (or empty) from one whose value we cannot read: the
    business reject we answer with says which (BusinessRejectReason 5 or 0)."""

    def __init__(self, message: str, tag: int | None = None, *, missing: bool = False) -> None:
        self.tag = tag
        self.missing = missing
        super().__init__(message)


class RefusedCommand(XmcError, ValueError):
    """An operator command the engine will not carry out in its present state (a pair's mode changed
    while one of its tickets is open, a size no lots match): the control socket answers with the
    reason, and the command line exits non-zero."""
