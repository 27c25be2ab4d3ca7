"""The built-in holiday data: it ships with the package, and a broken data file is refused with an
error that names the file, the key and what to change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.calendars import BUILTIN_CALENDARS, builtin_calendars
from xmc_fix.marketdata.calendars.datafiles import DATA

ROOT = Path(__file__).resolve().parents[3]
DATED = ("SHFE", "INE", "LME", "CME")          # the built-ins that close on holidays

# Run in a fresh interpreter against the installed copy: which files it read, and what it built.
PROBE = """
import json, xmc_fix.marketdata.calendars as c
print(json.dumps({"file": c.__file__, "calendars": {n: [[str(h.day) for h in cal.holidays],
    [[str(e.day), str(e.at)] for e in cal.early_closes], cal.source] for n, cal in c.BUILTIN_CALENDARS.items()}}))
"""


def summary(cals) -> dict:
    return {n: [[str(h.day) for h in cal.holidays], [[str(e.day), str(e.at)] for e in cal.early_closes], cal.source]
            for n, cal in cals.items()}


# -- shipped with the package ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A non-editable install of a wheel built from a copy of this checkout (no network, no build
    isolation: the virtualenv's setuptools builds it)."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "xmc_fix", src / "xmc_fix", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
                   check=True, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("xmc_fix-*.whl")
    subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", str(tmp / "site"), str(wheel)],
                   check=True, cwd=tmp)
    return tmp


def test_the_wheel_carries_every_data_file(installed):
    (wheel,) = (installed / "dist").glob("xmc_fix-*.whl")
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("xmc_fix/marketdata/calendars/data/")}
    assert shipped == {f"xmc_fix/marketdata/calendars/data/{p.name}" for p in DATA.iterdir() if p.name.endswith(".toml")}
    assert shipped


def test_every_builtin_calendar_loads_from_the_installed_data(installed):
    site = installed / "site"
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=installed, env=env)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert Path(got["file"]).resolve().is_relative_to(site.resolve())   # the installed copy, not this checkout
    assert got["calendars"] == summary(BUILTIN_CALENDARS)
    assert sorted(got["calendars"]) == sorted(BUILTIN_CALENDARS)
    for name in DATED:
        assert got["calendars"][name][0], f"{name} has no holidays in the installed data"


# -- the data as read here --------------------------------------------------------------------------------
def test_every_data_file_is_read_and_each_dated_calendar_names_its_files():
    files = sorted(p.name for p in DATA.iterdir() if p.name.endswith(".toml"))
    assert files
    sources = " ".join(BUILTIN_CALENDARS[n].source for n in DATED)
    assert all(f in sources for f in files)
    for name in DATED:
        assert BUILTIN_CALENDARS[name].holidays


def test_reading_the_folder_again_gives_the_same_calendars():
    assert summary(builtin_calendars(DATA)) == summary(BUILTIN_CALENDARS)


# -- a broken data file -----------------------------------------------------------------------------------
@pytest.fixture
def data(tmp_path) -> Path:
    """A copy of the built-in data folder to break."""
    for p in DATA.iterdir():
        (tmp_path / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


GOOD = 'calendars = ["LME"]\nyear = 2027\nsource = "test"\nholidays = [{ date = "2027-01-01", name = "New Year" }]\n'


@pytest.mark.parametrize("text, key, words", [
    ("calendars = [\"LME\"\nyear = 2027\n", None, "not valid TOML"),
    (GOOD.replace('["LME"]', '["NYMEX"]'), "calendars[0]", "unknown calendar 'NYMEX'"),
    (GOOD.replace('["LME"]', '["LME", "LME"]'), "calendars[1]", "listed twice"),
    (GOOD.replace('["LME"]', '"LME"'), "calendars", "expected a list"),
    (GOOD.replace('year = 2027\n', ''), "year", "missing"),
    (GOOD.replace('source = "test"\n', ''), "source", "missing"),
    (GOOD.replace('2027-01-01', '2026-01-01'), "holidays[0]", "2026-01-01 is not in 2027"),
    (GOOD.replace('2027-01-01', '2027-13-01'), "holidays[0].date", "not a date"),
    (GOOD.replace('date =', 'day ='), "holidays[0].day", "unknown key"),
    (GOOD + 'early_closes = [{ date = "2027-12-24", at = "noon" }]\n', "early_closes[0].at", "not a time of day"),
    (GOOD + 'notes = "x"\n', "notes", "unknown key"),
])
def test_a_malformed_data_file_is_refused_naming_the_file_and_key(data, text, key, words):
    bad = data / "uk-2027.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        builtin_calendars(data)
    assert e.value.file == str(bad)
    assert e.value.key == key
    assert words in e.value.problem
    assert str(bad) in str(e.value)


def test_a_date_listed_twice_for_one_calendar_names_both_files(data):
    bad = data / "uk-2026b.toml"           # read after uk-2026.toml (files are read in name order)
    bad.write_text(GOOD.replace("2027", "2026"), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        builtin_calendars(data)
    assert e.value.file == str(bad) and e.value.key == "holidays[0]"
    assert "already listed for LME in uk-2026.toml" in e.value.problem


def test_a_date_listed_twice_in_one_file_is_refused(data):
    bad = data / "uk-2027.toml"
    bad.write_text(GOOD.replace('name = "New Year" }]', 'name = "New Year" }, "2027-01-01"]'), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        builtin_calendars(data)
    assert (e.value.file, e.value.key) == (str(bad), "holidays[1]")


def test_what_the_calendar_refuses_names_the_data_file(data):
    bad = data / "uk-2027.toml"
    bad.write_text(GOOD + 'early_closes = [{ date = "2027-01-02", at = "12:00" }]\n', encoding="utf-8")  # a Saturday
    with pytest.raises(ConfigError) as e:
        builtin_calendars(data)
    assert str(bad) in e.value.file and e.value.key == "early_closes"
    assert "LME" in e.value.problem and "not a trading weekday" in e.value.problem


def test_a_dated_calendar_without_data_is_refused_naming_the_folder(data):
    (data / "uk-2026.toml").unlink()
    with pytest.raises(ConfigError) as e:
        builtin_calendars(data)
    assert e.value.file == str(data)
    assert "no holiday data for LME" in e.value.problem


def test_a_missing_data_folder_is_refused(tmp_path):
    with pytest.raises(ConfigError) as e:
        builtin_calendars(tmp_path / "nowhere")
    assert e.value.file == str(tmp_path / "nowhere")
