"""QuickFIX session files (``sessions/*.cfg``): read, validated, resolved, and handed to QuickFIX.

The files are in QuickFIX's own settings format, which FIX engineers already know, plus keys of
ours per session: ``Venue`` (the venue name the strategy file uses), ``Dialect`` (the venue's FIX
style, :mod:`xmc_fix.venues.dialects`; default: the plain dialect of the BeginString) and the keys a
dialect reads (``HedgeFlag``); on a venue's drop-copy session ``DropCopyFor=VENUE`` (its ``Venue``
defaults to that) with optional ``DropCopyAccounts=A,B`` (the accounts it copies; default all). We
parse them ourselves first
so that a typo gets an error naming the file, line and key instead of a QuickFIX exception, and so
that relative paths (``DataDictionary``, ``FileStorePath``) resolve against the file's own folder.
A file that names no ``FileStorePath`` gets ``<data folder>/store/engine`` (initiators) or
``<data folder>/store/sim`` (acceptors); see :mod:`xmc_fix.paths`.

Passwords never belong here: a ``Password`` key is refused (see :mod:`xmc_fix.venues.credentials`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from xmc_fix.errors import ConfigError
from xmc_fix.venues import dialects
from xmc_fix.venues.dialects import Dialect

#: Every key QuickFIX 1.16 reads (from its SessionSettings.h), plus ours.
QUICKFIX_KEYS = frozenset("""
AllowUnknownMsgFields AllowedRemoteAddresses AppDataDictionary BeginString CheckCompID CheckLatency
ConnectionType DataDictionary DefaultApplVerID EndDay EndTime FileLogBackupPath FileLogPath
FileStorePath HeartBtInt HostSelectionPolicy HostSelectionPolicyPriorityStartOverInterval
HttpAcceptPort LogonDay LogonTime LogonTimeout LogoutDay LogoutTime LogoutTimeout MaxLatency
MillisecondsInTimeStamp NonStopSession PersistMessages PreserveMessageFieldsOrder ReconnectInterval
RefreshOnLogon ResetOnDisconnect ResetOnLogon ResetOnLogout ScreenLogShowEvents
ScreenLogShowIncoming ScreenLogShowOutgoing SendNextExpectedMsgSeqNum SendRedundantResendRequests
SendResetSeqNumFlag SenderCompID SenderSubID SenderLocationID SessionQualifier SocketAcceptPort
SocketConnectHost SocketConnectPort SocketConnectSourceHost SocketConnectSourcePort SocketNodelay
SocketReceiveBufferSize SocketReuseAddress SocketSendBufferSize StartDay StartTime TargetCompID
TargetSubID TargetLocationID TimestampPrecision TransportDataDictionary UseDataDictionary
UseLocalTime ValidateFieldsHaveValues ValidateFieldsOutOfOrder ValidateLengthAndChecksum
ValidateUserDefinedFields
""".split())
XMC_KEYS = frozenset({"Venue", "Username", "DropCopyFor", "DropCopyAccounts", "OrderMassStatus",
                      "RequestForPositions"}) | dialects.SESSION_KEYS
#: our Y/N keys: what a venue's gateway answers (reconciliation asks it) — default N
YES_NO_KEYS = ("OrderMassStatus", "RequestForPositions")
SECRET_KEYS = frozenset({"Password", "NewPassword"})
PATH_KEYS = ("DataDictionary", "TransportDataDictionary", "AppDataDictionary", "FileStorePath",
             "FileLogPath", "FileLogBackupPath")
_NUMBERED = ("SocketConnectHost", "SocketConnectPort", "SocketConnectSourceHost",
             "SocketConnectSourcePort")


def _known(key: str) -> bool:
    if key in QUICKFIX_KEYS or key in XMC_KEYS:
        return True
    # Backup connection addresses: SocketConnectHost1, SocketConnectPort1, ...
    return any(key.startswith(p) and key[len(p):].isdigit() for p in _NUMBERED)


@dataclass(slots=True)
class SessionSpec:
    """One [SESSION] section merged over [DEFAULT]."""

    values: dict[str, str]
    line: int
    dialect: Dialect | None = None    # set when the file is loaded (validated with the other keys)

    @property
    def venue(self) -> str:
        return self.values["Venue"]

    @property
    def drop_copy_for(self) -> str | None:
        """The venue this session is the drop copy of (read-only reports), or None."""
        return self.values.get("DropCopyFor") or None

    @property
    def mass_status(self) -> bool:
        """The venue answers OrderMassStatusRequest (AF)."""
        return self.values.get("OrderMassStatus", "N") == "Y"

    @property
    def positions(self) -> bool:
        """The venue answers RequestForPositions (AN) with PositionReports (AP)."""
        return self.values.get("RequestForPositions", "N") == "Y"

    @property
    def session_key(self) -> str:
        """The SessionID string QuickFIX prints (``FIX.4.4:XMC->SHFE``)."""
        v = self.values
        q = f":{v['SessionQualifier']}" if v.get("SessionQualifier") else ""
        return f"{v['BeginString']}:{v['SenderCompID']}->{v['TargetCompID']}{q}"


@dataclass(slots=True)
class SessionFile:
    path: str
    default: dict[str, str]
    sessions: list[SessionSpec] = field(default_factory=list)

    def by_venue(self) -> dict[str, SessionSpec]:
        """Each venue's order session (drop copies apart: :meth:`drop_copies`)."""
        return {s.venue: s for s in self.sessions if not s.drop_copy_for}

    def drop_copies(self) -> dict[str, SessionSpec]:
        return {s.venue: s for s in self.sessions if s.drop_copy_for}

    def render(self) -> str:
        """QuickFIX settings text with every value resolved (what QuickFIX actually reads)."""
        lines = ["[DEFAULT]"] + [f"{k}={v}" for k, v in self.default.items()]
        for s in self.sessions:
            lines.append("[SESSION]")
            lines += [f"{k}={v}" for k, v in s.values.items() if self.default.get(k) != v]
        return "\n".join(lines) + "\n"

    def quickfix_settings(self):
        import quickfix as fix

        settings = fix.SessionSettings()
        settings.setFromString(self.render())
        return settings


def load_session_file(path: str | Path, role: str, *, overrides: dict[str, dict[str, str]] | None = None,
                      base_dir: str | Path | None = None) -> SessionFile:
    """Parse and validate a QuickFIX settings file.

    ``role`` is ``initiator`` (engine) or ``acceptor`` (simulator). ``overrides`` maps venue name to
    keys replaced after parsing (the demo uses it for free ports and temporary store paths).
    ``base_dir`` is where relative paths resolve (default: the file's folder).
    """
    file = str(path)
    p = Path(path)
    if not p.is_file():
        raise ConfigError("file not found", file=file, remedy="pass an existing QuickFIX settings file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=file, remedy="save the file as UTF-8") from None
    base = Path(base_dir) if base_dir else p.resolve().parent

    default: dict[str, str] = {}
    raw_sessions: list[tuple[int, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#") or s.startswith(";"):
            continue
        where = f"{file}:{n}"
        if s.startswith("["):
            name = s.strip("[]").strip().upper()
            if not s.endswith("]") or name not in ("DEFAULT", "SESSION"):
                raise ConfigError(f"unknown section {s!r}", file=where, remedy="use [DEFAULT] or [SESSION]")
            if name == "DEFAULT":
                current = default
            else:
                current = {}
                raw_sessions.append((n, current))
            continue
        if "=" not in s:
            raise ConfigError(f"expected Key=Value, got {s!r}", file=where,
                              remedy="write one Key=Value per line; start comments with #")
        if current is None:
            raise ConfigError("setting before any section", file=where, remedy="start with [DEFAULT] or [SESSION]")
        k, v = (x.strip() for x in s.split("=", 1))
        if k in SECRET_KEYS:
            raise ConfigError("passwords must not be stored in session files", file=where, key=k,
                              remedy="remove it; set XMC_<VENUE>_PASSWORD or use --credentials FILE")
        if not _known(k):
            near = difflib.get_close_matches(k, sorted(QUICKFIX_KEYS | XMC_KEYS), n=1)
            raise ConfigError("unknown key", file=where, key=k,
                              remedy=f"did you mean {near[0]}?" if near else "see QuickFIX's configuration reference")
        current[k] = v

    if not raw_sessions:
        raise ConfigError("no [SESSION] section", file=file, remedy="add one [SESSION] per venue")

    if "FileStorePath" not in default:
        from xmc_fix.paths import var_dir
        default["FileStorePath"] = str(var_dir() / "store" / ("engine" if role == "initiator" else "sim"))
    sessions: list[SessionSpec] = []
    for n, body in raw_sessions:
        values = {**default, **body}
        spec = SessionSpec(values, n)
        where = f"{file}:{n}"
        if values.get("DropCopyFor"):
            if "Venue" not in values:
                values["Venue"] = values["DropCopyFor"]
            elif values["Venue"] != values["DropCopyFor"]:
                raise ConfigError(f"Venue={values['Venue']} but DropCopyFor={values['DropCopyFor']}", file=where,
                                  key="DropCopyFor", remedy="a drop copy belongs to the venue it copies: drop Venue")
        if "Venue" not in values:
            raise ConfigError("missing", file=where, key="Venue", remedy="name the venue this session reaches, e.g. Venue=SHFE")
        if overrides and spec.venue in overrides:
            values.update(overrides[spec.venue])
        _validate(spec, role, where)
        for k in PATH_KEYS:
            if k in values and not Path(values[k]).is_absolute():
                values[k] = str((base / values[k]).resolve())
        for k in ("DataDictionary", "TransportDataDictionary", "AppDataDictionary"):
            if k in values and values.get("UseDataDictionary", "Y") == "Y" and not Path(values[k]).is_file():
                raise ConfigError(f"dictionary {values[k]} not found", file=where, key=k,
                                  remedy="point it at a file under fixspecs/")
        sessions.append(spec)

    seen: dict[str, int] = {}
    for spec in sessions:
        # An acceptor (the simulator) may serve one venue to several clients: one [SESSION] per client
        # (TargetCompID), same Venue; an initiator reaches each venue through exactly one session.
        names = ((spec.session_key, "session"),) if role == "acceptor" else \
            ((f"{spec.venue} (drop copy)" if spec.drop_copy_for else spec.venue, "Venue"),
             (spec.session_key, "session"))
        for key, what in names:
            if key in seen:
                raise ConfigError(f"{what} {key} defined twice (lines {seen[key]} and {spec.line})",
                                  file=file, key=what, remedy="one [SESSION] per venue")
            seen[key] = spec.line
    # Defaults are rendered once; per-session values keep the resolved paths.
    resolved_default = dict(default)
    for k in PATH_KEYS:
        if k in resolved_default and not Path(resolved_default[k]).is_absolute():
            resolved_default[k] = str((base / resolved_default[k]).resolve())
    return SessionFile(file, resolved_default, sessions)


def load_sessions(path: str | Path, role: str, ports: dict[str, int] | None = None,
                  store: str | Path | None = None) -> SessionFile:
    """A session file with the overrides the demo, the tests and ``--port``/``--store`` give: a
    port per venue, and one store folder for every session."""
    port_key = "SocketConnectPort" if role == "initiator" else "SocketAcceptPort"
    sf = load_session_file(path, role)
    known = {s.venue for s in sf.sessions}
    for venue, port in (ports or {}).items():
        if venue not in known:
            raise ConfigError(f"no session for venue {venue!r}", file=str(path), key="--port",
                              remedy=f"use one of {', '.join(sorted(known))}")
    for s in sf.sessions:
        if ports and s.venue in ports:
            s.values[port_key] = str(ports[s.venue])
        if store:
            s.values["FileStorePath"] = str(Path(store).resolve())
    if store:
        sf.default["FileStorePath"] = str(Path(store).resolve())
    return sf


def _validate(spec: SessionSpec, role: str, where: str) -> None:
    v = spec.values
    for k in ("BeginString", "SenderCompID", "TargetCompID", "ConnectionType"):
        if not v.get(k):
            raise ConfigError("missing", file=where, key=k, remedy="set it in [DEFAULT] or the [SESSION]")
    if v["ConnectionType"] != role:
        raise ConfigError(f"ConnectionType={v['ConnectionType']} but this command needs {role}",
                          file=where, key="ConnectionType", remedy=f"set ConnectionType={role}")
    port_keys = ("SocketConnectPort",) if role == "initiator" else ("SocketAcceptPort",)
    if role == "initiator" and not v.get("SocketConnectHost"):
        raise ConfigError("missing", file=where, key="SocketConnectHost", remedy="set the gateway's host")
    for k in port_keys:
        if not v.get(k):
            raise ConfigError("missing", file=where, key=k, remedy="set the TCP port")
        if not v[k].isdigit() or not 0 < int(v[k]) < 65536:
            raise ConfigError(f"{v[k]!r} is not a TCP port", file=where, key=k, remedy="use 1-65535")
    for k in ("HeartBtInt", "ReconnectInterval", "LogonTimeout", "LogoutTimeout"):
        if k in v and not v[k].isdigit():
            raise ConfigError(f"{v[k]!r} is not a whole number of seconds", file=where, key=k,
                              remedy=f"e.g. {k}=30")
    if role == "initiator" and "HeartBtInt" not in v:
        raise ConfigError("missing", file=where, key="HeartBtInt", remedy="initiators must set HeartBtInt, e.g. 30")
    for k in YES_NO_KEYS:
        if v.get(k, "N") not in ("Y", "N"):
            raise ConfigError(f"{v[k]!r} is not Y or N", file=where, key=k, remedy=f"{k}=Y if the venue answers it")
    for k in ("StartTime", "EndTime"):
        if k not in v and v.get("NonStopSession", "N") != "Y":
            raise ConfigError("missing", file=where, key=k, remedy="set the session window, or NonStopSession=Y")
    spec.dialect = dialects.for_session(v, where)
