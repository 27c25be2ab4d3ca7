"""QuickFIX session files: the shipped ones load, relative paths resolve against the file, and every
mistake is a ConfigError naming the file, the line and the key, with a remedy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import quickfix as fix

from xmc_fix.errors import ConfigError
from xmc_fix.paths import var_dir
from xmc_fix.venues.settings import load_session_file

ROOT = Path(__file__).resolve().parents[3]
XMC_DD = ROOT / "fixspecs" / "FIX44-XMC.xml"
DROP = object()


# -- stub factories ----------------------------------------------------------------------------
def default_section(**overrides) -> dict:
    fields = dict(ConnectionType="initiator", BeginString="FIX.4.4", SenderCompID="XMC",
                  SocketConnectHost="127.0.0.1", HeartBtInt="10", StartTime="00:00:00", EndTime="00:00:00",
                  FileStorePath="store", UseDataDictionary="Y", DataDictionary="specs/FIX44-XMC.xml")
    return {k: v for k, v in {**fields, **overrides}.items() if v is not DROP}


def session_section(venue: str = "SHFE", **overrides) -> dict:
    fields = dict(Venue=venue, TargetCompID=venue, SocketConnectPort="9881")
    return {k: v for k, v in {**fields, **overrides}.items() if v is not DROP}


def write_cfg(folder: Path, default: dict | None = None, sessions: list[dict] | None = None, *,
              name: str = "venues.cfg", text: str | None = None) -> Path:
    """A settings file in ``folder`` with a copy of the XMC dictionary under ``specs/``."""
    (folder / "specs").mkdir(parents=True, exist_ok=True)
    shutil.copy(XMC_DD, folder / "specs" / "FIX44-XMC.xml")
    if text is None:
        lines = ["# test session file", "[DEFAULT]"] + [f"{k}={v}" for k, v in (default or default_section()).items()]
        for s in sessions if sessions is not None else [session_section("SHFE"),
                                                         session_section("LME", SocketConnectPort="9882")]:
            lines += ["", "[SESSION]"] + [f"{k}={v}" for k, v in s.items()]
        text = "\n".join(lines) + "\n"
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, start: str, nth: int = 1) -> int:
    """1-based number of the ``nth`` line of ``path`` that starts with ``start``."""
    hits = [n for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip().startswith(start)]
    return hits[nth - 1]


def refused(path: Path, role: str = "initiator", **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load_session_file(path, role, **kwargs)
    return e.value


# -- the shipped files ---------------------------------------------------------------------------
def test_engine_session_file_loads_with_one_session_per_venue():
    sf = load_session_file(ROOT / "sessions" / "venues.cfg", "initiator")

    assert list(sf.by_venue()) == ["SHFE", "LME", "COMEX", "CNHFX"]
    shfe = sf.by_venue()["SHFE"]
    assert shfe.session_key == "FIX.4.4:XMC->SHFE"
    assert shfe.values["DataDictionary"] == str(ROOT / "fixspecs" / "FIX44-SHFE.xml")
    assert sf.by_venue()["LME"].values["DataDictionary"] == str(XMC_DD)
    # the shipped file names no store: it is the data folder's (XMC_VAR_DIR, a folder per test here)
    assert shfe.values["FileStorePath"] == str(var_dir() / "store" / "engine")


def test_a_session_file_without_a_store_uses_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XMC_VAR_DIR", str(tmp_path / "data"))

    engine = load_session_file(ROOT / "sessions" / "venues.cfg", "initiator")
    sim = load_session_file(ROOT / "sessions" / "sim.cfg", "acceptor")

    assert {s.values["FileStorePath"] for s in engine.sessions} == {str(tmp_path / "data" / "store" / "engine")}
    assert {s.values["FileStorePath"] for s in sim.sessions} == {str(tmp_path / "data" / "store" / "sim")}
    assert "FileStorePath=" + str(tmp_path / "data" / "store" / "engine") in engine.render()


def test_simulator_session_file_loads_as_acceptor():
    sf = load_session_file(ROOT / "sessions" / "sim.cfg", "acceptor")

    assert [s.session_key for s in sf.sessions] == [
        "FIX.4.4:SHFE->XMC", "FIX.4.4:SHFEDC->XMC", "FIX.4.4:LME->XMC", "FIX.4.4:LMEDC->XMC", "FIX.4.4:COMEX->XMC",
        "FIX.4.4:COMEXDC->XMC", "FIX.4.2:COMEX->XMC", "FIX.4.4:CNHFX->XMC"]
    assert [s.venue for s in sf.sessions if s.values.get("DropCopyFor")] == ["SHFE", "LME", "COMEX"]


def test_quickfix_reads_the_resolved_settings():
    sf = load_session_file(ROOT / "sessions" / "venues.cfg", "initiator")

    settings = sf.quickfix_settings()

    assert sorted(s.toString() for s in settings.getSessions()) == sorted(s.session_key for s in sf.sessions)
    shfe = settings.get(fix.SessionID("FIX.4.4", "XMC", "SHFE"))
    assert shfe.getString("DataDictionary") == str(ROOT / "fixspecs" / "FIX44-SHFE.xml")
    assert shfe.getString("SocketConnectPort") == "9881"
    lme = settings.get(fix.SessionID("FIX.4.4", "XMC", "LME"))
    assert lme.getString("DataDictionary") == str(XMC_DD)


# -- paths ---------------------------------------------------------------------------------------
def test_relative_paths_resolve_against_the_files_folder_not_the_working_directory(tmp_path, monkeypatch):
    path = write_cfg(tmp_path / "conf")
    monkeypatch.chdir(tmp_path)

    sf = load_session_file("conf/venues.cfg", "initiator")

    for s in sf.sessions:
        assert s.values["DataDictionary"] == str(tmp_path / "conf" / "specs" / "FIX44-XMC.xml")
        assert s.values["FileStorePath"] == str(tmp_path / "conf" / "store")
    assert sf.default["FileStorePath"] == str(path.parent / "store")


def test_absolute_paths_are_kept(tmp_path):
    path = write_cfg(tmp_path, default_section(DataDictionary=str(XMC_DD), FileStorePath="/var/tmp/xmc-store"))

    s = load_session_file(path, "initiator").sessions[0]

    assert (s.values["DataDictionary"], s.values["FileStorePath"]) == (str(XMC_DD), "/var/tmp/xmc-store")


def test_base_dir_replaces_the_files_folder(tmp_path):
    path = write_cfg(tmp_path / "conf")
    write_cfg(tmp_path / "other")

    s = load_session_file(path, "initiator", base_dir=tmp_path / "other").sessions[0]

    assert s.values["DataDictionary"] == str(tmp_path / "other" / "specs" / "FIX44-XMC.xml")


def test_overrides_replace_keys_of_one_venue(tmp_path):
    path = write_cfg(tmp_path)

    sf = load_session_file(path, "initiator", overrides={"LME": {"SocketConnectPort": "40001",
                                                                   "FileStorePath": "tmp-store"}})

    assert sf.by_venue()["LME"].values["SocketConnectPort"] == "40001"
    assert sf.by_venue()["LME"].values["FileStorePath"] == str(tmp_path / "tmp-store")
    assert sf.by_venue()["SHFE"].values["SocketConnectPort"] == "9881"


def test_backup_connection_addresses_are_known_keys(tmp_path):
    path = write_cfg(tmp_path, sessions=[session_section(SocketConnectHost1="10.0.0.2", SocketConnectPort1="9991")])

    assert load_session_file(path, "initiator").sessions[0].values["SocketConnectPort1"] == "9991"


def test_non_stop_session_needs_no_session_window(tmp_path):
    path = write_cfg(tmp_path, default_section(StartTime=DROP, EndTime=DROP, NonStopSession="Y"))

    assert len(load_session_file(path, "initiator").sessions) == 2


def test_missing_dictionary_is_fine_when_the_session_does_not_use_one(tmp_path):
    path = write_cfg(tmp_path, default_section(UseDataDictionary="N", DataDictionary="nowhere.xml"))

    assert len(load_session_file(path, "initiator").sessions) == 2


# -- errors name file, line and key ---------------------------------------------------------------
def test_unknown_key_is_refused_with_the_nearest_known_key(tmp_path):
    path = write_cfg(tmp_path, sessions=[session_section(SocketConectPort="9881", SocketConnectPort=DROP)])

    e = refused(path)

    n = line_of(path, "SocketConectPort=")
    assert (e.file, e.key, e.problem, e.remedy) == (f"{path}:{n}", "SocketConectPort", "unknown key",
                                                    "did you mean SocketConnectPort?")
    assert e.line() == f"{path}:{n}: SocketConectPort: unknown key (did you mean SocketConnectPort?)"


def test_unknown_key_far_from_any_known_key_points_at_the_reference(tmp_path):
    path = write_cfg(tmp_path, default_section(Zebra="1"))

    e = refused(path)

    assert (e.file, e.key) == (f"{path}:{line_of(path, 'Zebra=')}", "Zebra")
    assert "configuration reference" in e.remedy


@pytest.mark.parametrize("key", ["Password", "NewPassword"])
@pytest.mark.parametrize("where", ["default", "session"])
def test_password_in_a_session_file_is_refused_without_repeating_it(tmp_path, key, where):
    secret = "hunter2-do-not-print"
    default = default_section(**({key: secret} if where == "default" else {}))
    sessions = [session_section(**({key: secret} if where == "session" else {}))]
    path = write_cfg(tmp_path, default, sessions)

    e = refused(path)

    assert (e.file, e.key) == (f"{path}:{line_of(path, key + '=')}", key)
    assert "XMC_<VENUE>_PASSWORD" in e.remedy
    assert secret not in e.line()


@pytest.mark.parametrize("key", ["BeginString", "SenderCompID", "ConnectionType", "SocketConnectHost", "HeartBtInt",
                                 "StartTime", "EndTime"])
def test_missing_required_key_names_the_session(tmp_path, key):
    path = write_cfg(tmp_path, default_section(**{key: DROP}))

    e = refused(path)

    assert (e.file, e.key, e.problem) == (f"{path}:{line_of(path, '[SESSION]')}", key, "missing")
    assert e.remedy


@pytest.mark.parametrize("key", ["Venue", "TargetCompID", "SocketConnectPort"])
def test_missing_required_session_key_names_that_session(tmp_path, key):
    path = write_cfg(tmp_path, sessions=[session_section("SHFE"), session_section("LME", **{key: DROP})])

    e = refused(path)

    assert (e.file, e.key) == (f"{path}:{line_of(path, '[SESSION]', 2)}", key)


def test_acceptor_needs_an_accept_port_but_no_host_or_heartbeat(tmp_path):
    ok = write_cfg(tmp_path / "ok", default_section(ConnectionType="acceptor", SocketConnectHost=DROP,
                                                    HeartBtInt=DROP),
                   [session_section(SocketConnectPort=DROP, SocketAcceptPort="9881")])
    missing = write_cfg(tmp_path / "missing", default_section(ConnectionType="acceptor"), [session_section()])

    assert len(load_session_file(ok, "acceptor").sessions) == 1
    assert refused(missing, "acceptor").key == "SocketAcceptPort"


@pytest.mark.parametrize("role, other", [("initiator", "acceptor"), ("acceptor", "initiator")])
def test_wrong_connection_type_for_the_command_is_refused(tmp_path, role, other):
    path = write_cfg(tmp_path, default_section(ConnectionType=other),
                     [session_section(SocketAcceptPort="9881")])

    e = refused(path, role)

    assert (e.key, e.remedy) == ("ConnectionType", f"set ConnectionType={role}")
    assert f"ConnectionType={other}" in e.problem


@pytest.mark.parametrize("port", ["98a1", "0", "65536", "-1", "9881.0"])
def test_port_that_is_not_a_tcp_port_is_refused(tmp_path, port):
    path = write_cfg(tmp_path, sessions=[session_section(SocketConnectPort=port)])

    e = refused(path)

    assert (e.file, e.key, e.remedy) == (f"{path}:{line_of(path, '[SESSION]')}", "SocketConnectPort", "use 1-65535")
    assert repr(port) in e.problem


@pytest.mark.parametrize("key", ["HeartBtInt", "ReconnectInterval", "LogonTimeout", "LogoutTimeout"])
def test_interval_that_is_not_whole_seconds_is_refused(tmp_path, key):
    path = write_cfg(tmp_path, default_section(**{key: "2.5"}))

    assert refused(path).key == key


def test_same_venue_twice_is_refused_naming_both_lines(tmp_path):
    path = write_cfg(tmp_path, sessions=[session_section("SHFE"), session_section("SHFE", TargetCompID="SHFE2")])

    e = refused(path)

    first, second = line_of(path, "[SESSION]"), line_of(path, "[SESSION]", 2)
    assert (e.file, e.key) == (str(path), "Venue")
    assert e.problem == f"Venue SHFE defined twice (lines {first} and {second})"


def test_same_session_identity_twice_is_refused(tmp_path):
    path = write_cfg(tmp_path, sessions=[session_section("SHFE"), session_section("INE", TargetCompID="SHFE")])

    e = refused(path)

    assert e.key == "session" and "FIX.4.4:XMC->SHFE defined twice" in e.problem


def test_same_target_with_another_qualifier_is_a_different_session(tmp_path):
    path = write_cfg(tmp_path, sessions=[session_section("SHFE"),
                                         session_section("INE", TargetCompID="SHFE", SessionQualifier="MD")])

    assert [s.session_key for s in load_session_file(path, "initiator").sessions] == \
           ["FIX.4.4:XMC->SHFE", "FIX.4.4:XMC->SHFE:MD"]


def test_missing_dictionary_file_is_refused_with_its_resolved_path(tmp_path):
    path = write_cfg(tmp_path, sessions=[session_section(DataDictionary="specs/FIX44-NOPE.xml")])

    e = refused(path)

    assert (e.file, e.key) == (f"{path}:{line_of(path, '[SESSION]')}", "DataDictionary")
    assert str(tmp_path / "specs" / "FIX44-NOPE.xml") in e.problem


@pytest.mark.parametrize("text, problem", [
    ("[DEFAULT]\nHeartBtInt=10\n[SESION]\nVenue=X\n", "unknown section '[SESION]'"),
    ("[SESSION\nVenue=X\n", "unknown section '[SESSION'"),
    ("HeartBtInt=10\n[SESSION]\n", "setting before any section"),
    ("[DEFAULT]\nHeartBtInt 10\n", "expected Key=Value, got 'HeartBtInt 10'"),
])
def test_malformed_line_is_refused_with_its_line_number(tmp_path, text, problem):
    path = write_cfg(tmp_path, text=text)

    e = refused(path)

    assert e.problem == problem
    assert e.file.startswith(f"{path}:") and int(e.file.rsplit(":", 1)[1]) in range(1, text.count("\n") + 1)


def test_file_without_sessions_is_refused(tmp_path):
    e = refused(write_cfg(tmp_path, text="[DEFAULT]\nHeartBtInt=10\n"))

    assert e.problem == "no [SESSION] section"


def test_missing_file_is_refused(tmp_path):
    e = refused(tmp_path / "nope.cfg")

    assert (e.file, e.problem) == (str(tmp_path / "nope.cfg"), "file not found")


def test_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin.cfg"
    path.write_bytes(b"[DEFAULT]\nSenderCompID=caf\xe9\n")

    assert refused(path).problem == "not UTF-8 text"


def test_an_acceptor_may_serve_one_venue_to_several_clients(tmp_path):
    acceptor = default_section(ConnectionType="acceptor", SenderCompID="SHFE", SocketConnectHost=DROP,
                               HeartBtInt=DROP)
    sessions = [dict(Venue="SHFE", TargetCompID=client, SocketAcceptPort="9881") for client in ("XMC", "XMC2")]
    path = write_cfg(tmp_path, acceptor, sessions)

    loaded = load_session_file(path, "acceptor")

    assert [s.session_key for s in loaded.sessions] == ["FIX.4.4:SHFE->XMC", "FIX.4.4:SHFE->XMC2"]
    assert {s.venue for s in loaded.sessions} == {"SHFE"}


def test_a_drop_copy_session_belongs_to_the_venue_it_copies(tmp_path):
    acceptor = default_section(ConnectionType="acceptor", SocketConnectHost=DROP, HeartBtInt=DROP, TargetCompID="XMC")
    sessions = [dict(Venue="SHFE", SenderCompID="SHFE", SocketAcceptPort="9881"),
                dict(DropCopyFor="SHFE", SenderCompID="SHFEDC", SocketAcceptPort="9881", DropCopyAccounts="A1,A2")]
    path = write_cfg(tmp_path, acceptor, sessions)

    loaded = load_session_file(path, "acceptor")

    assert [(s.session_key, s.venue, s.values.get("DropCopyFor")) for s in loaded.sessions] == [
        ("FIX.4.4:SHFE->XMC", "SHFE", None), ("FIX.4.4:SHFEDC->XMC", "SHFE", "SHFE")]


def test_a_drop_copy_for_another_venue_than_its_own_is_refused(tmp_path):
    acceptor = default_section(ConnectionType="acceptor", SocketConnectHost=DROP, HeartBtInt=DROP, TargetCompID="XMC")
    path = write_cfg(tmp_path, acceptor, [dict(Venue="LME", DropCopyFor="SHFE", SenderCompID="DC",
                                                SocketAcceptPort="9881")])

    e = refused(path, "acceptor")

    assert e.key == "DropCopyFor" and "Venue=LME but DropCopyFor=SHFE" in e.problem
