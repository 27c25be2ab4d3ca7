"""Scenario files for the venue side (README "Scenarios"): each new rate and script action parses
into what the exchange carries out, and a mistake names the file, the key and the remedy. Also the
market file's per-venue settings and positions held before the start."""

from __future__ import annotations

import re
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.unit.sim.sim_stubs import SIM_MARKET, scenario
from xmc_fix.errors import ConfigError
from xmc_fix.sim.behaviour import ACTION_KEYS, EVENT_ACTIONS, VenueEvent, load_scenario
from xmc_fix.sim.config import load_market
from xmc_fix.sim.positions import InitialPosition

ROOT = Path(__file__).resolve().parents[3]


def _step(tmp_path, body: str):
    return scenario(tmp_path, f'[[script]]\nvenue = "SHFE"\norder = 1\n{body}')["SHFE"].plan()


@pytest.mark.parametrize("body, event", [
    ('action = "bust"\nms = 250\nfill = 2\nreopen = false', VenueEvent("bust", 250.0, fill=2, reopen=False)),
    ('action = "correct"\nfraction = 0.5\nticks = -3', VenueEvent("correct", fraction=D("0.5"), ticks=-3)),
    ('action = "correct"', VenueEvent("correct", ticks=1)),
    ('action = "restate"\nreason = 4', VenueEvent("restate", fraction=D("0.5"), reason="4")),
    ('action = "done_for_day"\nms = 10', VenueEvent("done_for_day", 10.0)),
    ('action = "end_of_day"', VenueEvent("end_of_day")),
    ('action = "unsolicited_cancel"\ntext = "price limit"\nreason = 6',
     VenueEvent("unsolicited_cancel", reason="6", text="price limit")),
    ('action = "suspend"\nresume_ms = 400', VenueEvent("suspend", resume_ms=400.0)),
    ('action = "expire"', VenueEvent("expire")),
    ('action = "foreign"\nside = "sell"\nqty = 2\nsymbol = "CU"\naccount = "X"\nreport_to = "drop_copy"\n'
     'position_effect = "close_today"\nticks = -1',
     VenueEvent("foreign", side="sell", qty=D(2), symbol="CU", account="X", report_to="drop_copy",
                position_effect="T", ticks=-1)),
])
def test_each_venue_side_script_action_becomes_its_event(tmp_path, body, event):
    assert _step(tmp_path, body).events == (event,)


@pytest.mark.parametrize("body, field, value", [
    ('action = "silent"\nms = 1500', "silent_ms", 1500.0),
    ('action = "silent"\nms = 1500\nheld = "drop"', "silent_keep", False),
    ('action = "quiet"\nms = 800', "quiet_ms", 800.0),
    ('action = "withhold"', "withhold_ms", 0.0),
    ('action = "withhold"\nms = 300', "withhold_ms", 300.0),
])
def test_gateway_script_actions_set_the_orders_plan(tmp_path, body, field, value):
    assert getattr(_step(tmp_path, body), field) == value


def test_every_action_and_its_keys_are_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Scenarios"):readme.index("## Certifying")]
    for action, keys in ACTION_KEYS.items():
        assert re.search(rf"\b{action}\b", section), action
        if action in EVENT_ACTIONS or action in ("silent", "quiet", "withhold"):
            row = next(line for line in section.splitlines() if line.startswith(f"| `{action}`"))
            assert all(f"`{k}`" in row for k in keys), (action, [k for k in keys if f"`{k}`" not in row])


@pytest.mark.parametrize("body, key, problem", [
    ('action = "bust"\nticks = 2', "script[0].ticks", "does not apply to action 'bust'"),
    ('action = "silent"', "script[0].ms", "silent needs how long it lasts"),
    ('action = "foreign"\nreport_to = "fax"', "script[0].report_to", "unknown value 'fax'"),
    ('action = "foreign"\nsymbol = "ZN"', "script[0].symbol", "SHFE has no instrument 'ZN'"),
    ('action = "correct"\nfraction = 1.5', "script[0].fraction", "not a share of at most 1"),
    ('action = "silent"\nms = 10\nheld = "keep"', "script[0].held", "unknown value 'keep'"),
])
def test_script_mistakes_name_the_key_and_the_remedy(tmp_path, body, key, problem):
    with pytest.raises(ConfigError) as e:
        _step(tmp_path, body)
    assert e.value.key == key and problem in e.value.problem and e.value.remedy


def test_rates_parse_for_every_venue_and_override_per_venue(tmp_path):
    b = scenario(tmp_path, "[default]\nbust_rate = 0.1\nbust_ms = [100, 300]\nsilent_held = \"drop\"\n"
                           "end_of_day_s = 30\n[venues.LME]\nbust_rate = 0\nforeign_report_to = \"order\"\n")

    shfe, lme = b["SHFE"].rates, b["LME"].rates
    assert (shfe.bust_rate, shfe.bust_ms, shfe.silent_held, shfe.end_of_day_s) == (0.1, (100.0, 300.0), "drop", 30.0)
    assert (lme.bust_rate, lme.foreign_report_to, lme.end_of_day_s) == (0.0, "order", 30.0)


@pytest.mark.parametrize("text, key", [
    ("[default]\nbust_rate = 2\n", "default.bust_rate"),
    ("[default]\nrestate_fraction = 3\n", "default.restate_fraction"),
    ("[default]\nsilent_held = \"later\"\n", "default.silent_held"),
    ("[default]\nbust_mss = 1\n", "default.bust_mss"),
])
def test_rate_mistakes_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as e:
        scenario(tmp_path, text)
    assert e.value.key == key


def test_scenario_positions_belong_to_their_venue(tmp_path):
    b = scenario(tmp_path, '[[position]]\nvenue = "LME"\naccount = "A"\nsymbol = "CA"\nshort = 3\n')

    assert b["LME"].positions == [InitialPosition("LME", "A", "CA", short=D(3))]
    assert b["SHFE"].positions == []


@pytest.mark.parametrize("body, key, problem", [
    ('venue = "LME"\naccount = "A"\nsymbol = "CU"\nlong = 1', "position[0].symbol", "LME has no instrument 'CU'"),
    ('venue = "LME"\naccount = "A"\nsymbol = "CA"\nlong = 1\nshort = 1', "position[0].short", "nets positions"),
    ('venue = "LME"\naccount = "A"\nsymbol = "CA"\nlong = -1', "position[0].long", "must not be negative"),
    ('venue = "LME"\nsymbol = "CA"\nlong = 1', "position[0].account", "missing"),
])
def test_position_mistakes_name_the_key(tmp_path, body, key, problem):
    with pytest.raises(ConfigError) as e:
        scenario(tmp_path, f"[[position]]\n{body}\n")
    assert e.value.key == key and problem in e.value.problem


def test_market_file_venue_settings_and_positions(tmp_path):
    text = SIM_MARKET.read_text().replace(
        "[venues.SHFE.instruments.CU]",
        '[[venues.SHFE.positions]]\naccount = "XMC01"\nsymbol = "CU"\nlong = 10\nshort_today = 2\n\n'
        "[venues.SHFE.instruments.CU]")
    p = tmp_path / "m.toml"
    p.write_text(text)

    m = load_market(p)

    assert m.venues["SHFE"].positions == (InitialPosition("SHFE", "XMC01", "CU", long=D(10), short_today=D(2)),)
    assert (m.venues["SHFE"].order_mass_status, m.venues["SHFE"].request_for_positions) == (True, True)
    assert (m.venues["COMEX"].order_mass_status, m.venues["COMEX"].request_for_positions) == (True, False)
    assert (m.venues["CNHFX"].order_mass_status, m.venues["CNHFX"].request_for_positions) == (False, False)
    assert m.venues["LME"].order_mass_status and m.venues["LME"].request_for_positions


def test_market_file_position_for_an_unknown_instrument_names_the_table(tmp_path):
    text = SIM_MARKET.read_text().replace(
        "[venues.SHFE.instruments.CU]", '[[venues.SHFE.positions]]\naccount = "A"\nsymbol = "ZN"\nlong = 1\n\n'
                                         "[venues.SHFE.instruments.CU]")
    p = tmp_path / "m.toml"
    p.write_text(text)

    with pytest.raises(ConfigError) as e:
        load_market(p)
    assert e.value.key == "venues.SHFE.positions[0].symbol"


def test_the_venue_truth_scenario_loads_against_the_default_market():
    market = load_market(SIM_MARKET)

    b = load_scenario("venue_truth", market, search_dir=ROOT / "sessions" / "scenarios")

    actions = {s.action for v in b.values() for s in v.script}
    assert actions >= set(ACTION_KEYS) - {"reject", "partial", "delay", "duplicate", "reorder", "late_fill", "rest",
                                          "disconnect", "fill"}
    assert any(v.positions for v in b.values())


def test_chaos_plays_the_venue_side_behaviours_the_engine_must_survive():
    """Busts, corrections and done-for-day on every venue, a silent gateway on SHFE (chaos.toml)."""
    b = load_scenario("chaos", load_market(SIM_MARKET), search_dir=ROOT / "sessions" / "scenarios")
    plans = {v: [p.plan() for _ in range(2000)] for v, p in b.items()}
    actions = {v: {e.action for p in ps for e in p.events} for v, ps in plans.items()}
    for v in ("SHFE", "LME", "COMEX"):
        assert {"bust", "correct"} <= actions[v], (v, actions[v])
    assert any(p.silent_ms for p in plans["SHFE"]) and not any(p.silent_ms for p in plans["LME"])
