"""The strategy file: the shipped one loads, and each broken variant is refused with a ConfigError
that names the file and the dotted key, and says what to change."""

from __future__ import annotations

import re
from decimal import Decimal as D
from pathlib import Path

import pytest

from xmc_fix.config import load_strategy
from xmc_fix.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "sessions" / "strategy.toml"


# -- stub factories ----------------------------------------------------------------------------
def shipped_text() -> str:
    return STRATEGY.read_text(encoding="utf-8")


def set_key(text: str, table: str, key: str, value: str | None) -> str:
    """``text`` with ``key`` of ``[table]`` set to the TOML ``value`` (added if absent, removed if None)."""
    lines = text.splitlines()
    start = lines.index(f"[{table}]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    for i in range(start + 1, end):
        if re.match(rf"{re.escape(key)}\s*=", lines[i]):
            if value is None:
                del lines[i]
            else:
                lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    assert value is not None, f"{key} not in [{table}]"
    lines.insert(start + 1, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "strategy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_strategy(path)
    assert e.value.file == str(path)
    return e.value


def pair_change(key: str, value: str | None, pair: str = "CU_SHFE_LME") -> str:
    return set_key(shipped_text(), f"pairs.{pair}", key, value)


# -- the shipped file -----------------------------------------------------------------------------
def test_shipped_strategy_loads():
    s = load_strategy(STRATEGY)

    assert (s.engine.namespace, s.engine.account, s.engine.md_depth) == ("X", "XMC01", 5)
    assert set(s.instruments) == {"SHFE_CU", "LME_CA", "COMEX_HG"}
    assert s.venues == {"SHFE", "LME", "COMEX", "CNHFX"}
    assert (s.fx["USDCNH"].base, s.fx["USDCNH"].quote, s.fx["USDCNH"].venue) == ("USD", "CNY", "CNHFX")


def test_shipped_pair_values_are_exact_decimals():
    p = load_strategy(STRATEGY).pairs["CU_SHFE_LME"]

    assert (p.inner, p.outer, p.fx, p.formula) == ("SHFE_CU", "LME_CA", "USDCNH", "spread")
    assert (p.tax_factor, p.ticket_qty, p.max_position) == (D("1.13"), D(25), D(50))
    assert (p.entry_above, p.exit_above, p.entry_below, p.exit_below) == (D(250), D(60), D(-250), D(-60))
    assert isinstance(p.tax_factor, D)


def test_shipped_instruments_keep_their_contract_terms():
    s = load_strategy(STRATEGY)
    cu, hg = s.instrument("SHFE_CU"), s.instrument("COMEX_HG")

    assert (cu.venue, cu.symbol, cu.security_id, cu.tick, cu.contract_size, cu.position_effect) == \
           ("SHFE", "CU", "cu2601", D(10), D(5), True)
    assert (hg.unit, hg.tick, hg.contract_size, hg.position_effect) == ("lb", D("0.0005"), D(25000), False)
    assert s.by_venue_symbol()[("LME", "CA")] is s.instrument("LME_CA")


def test_pair_defaults_apply_when_keys_are_left_out(tmp_path):
    text = shipped_text()
    for key in ("formula", "cost_per_unit", "residual_tolerance", "max_quote_age_ms"):
        text = set_key(text, "pairs.CU_SHFE_LME", key, None)

    p = load_strategy(write(tmp_path, text)).pairs["CU_SHFE_LME"]

    assert (p.formula, p.cost_per_unit, p.residual_tolerance, p.max_quote_age_ms, p.enabled) == \
           ("spread", D(0), D(0), 2000, True)


# -- every error names the file and the dotted key ------------------------------------------------
def test_unknown_instrument_in_a_pair_is_refused_listing_the_known_ones(tmp_path):
    e = refused(tmp_path, pair_change("outer", '"LME_ZN"'))

    assert (e.key, e.problem) == ("pairs.CU_SHFE_LME.outer", "unknown instrument 'LME_ZN'")
    assert e.remedy == "define [instruments.LME_ZN] or use one of SHFE_CU, LME_CA, COMEX_HG"


def test_unknown_key_is_refused_with_the_nearest_known_key(tmp_path):
    e = refused(tmp_path, pair_change("entry_abve", "300"))

    assert (e.key, e.problem, e.remedy) == \
           ("pairs.CU_SHFE_LME.entry_abve", "unknown key", "did you mean 'entry_above'?")
    assert e.line() == f"{tmp_path / 'strategy.toml'}: pairs.CU_SHFE_LME.entry_abve: unknown key " \
                       f"(did you mean 'entry_above'?)"


@pytest.mark.parametrize("table, key, dotted", [
    ("engine", "namespce", "engine.namespce"),
    ("instruments.SHFE_CU", "tick_size", "instruments.SHFE_CU.tick_size"),
    ("fx.USDCNH", "max_age", "fx.USDCNH.max_age"),
])
def test_unknown_key_in_any_table_is_named_with_its_table(tmp_path, table, key, dotted):
    e = refused(tmp_path, set_key(shipped_text(), table, key, "1"))

    assert (e.key, e.problem) == (dotted, "unknown key")
    assert e.remedy.startswith("did you mean")


def test_unknown_top_level_table_is_refused(tmp_path):
    e = refused(tmp_path, shipped_text() + "\n[pair.X]\ninner = \"SHFE_CU\"\n")

    assert (e.key, e.problem, e.remedy) == ("pair", "unknown key", "did you mean 'pairs'?")


@pytest.mark.parametrize("key, value, message", [
    ("exit_above", "250", "250 is not below entry_above 250"),
    ("exit_above", "300", "300 is not below entry_above 250"),
    ("exit_below", "-250", "-250 is not above entry_below -250"),
    ("exit_below", "-400", "-400 is not above entry_below -250"),
])
def test_exit_threshold_outside_its_entry_is_refused_for_hysteresis(tmp_path, key, value, message):
    e = refused(tmp_path, pair_change(key, value))

    assert (e.key, e.problem) == (f"pairs.CU_SHFE_LME.{key}", message)
    assert "hysteresis" in e.remedy


@pytest.mark.parametrize("key", ["exit_above", "exit_below"])
def test_entry_without_its_exit_is_refused(tmp_path, key):
    e = refused(tmp_path, pair_change(key, None))

    assert e.key == f"pairs.CU_SHFE_LME.{key}" and e.problem.startswith("missing")


def test_pair_without_any_entry_threshold_is_refused(tmp_path):
    text = pair_change("entry_above", None)
    text = set_key(set_key(set_key(text, "pairs.CU_SHFE_LME", "exit_above", None), "pairs.CU_SHFE_LME",
                           "entry_below", None), "pairs.CU_SHFE_LME", "exit_below", None)

    e = refused(tmp_path, text)

    assert (e.key, e.problem) == ("pairs.CU_SHFE_LME.entry_above", "no entry threshold")


def test_one_sided_pair_is_accepted(tmp_path):
    text = set_key(pair_change("entry_below", None), "pairs.CU_SHFE_LME", "exit_below", None)

    p = load_strategy(write(tmp_path, text)).pairs["CU_SHFE_LME"]

    assert (p.entry_above, p.entry_below) == (D(250), None)


def test_cross_currency_pair_without_fx_is_refused(tmp_path):
    e = refused(tmp_path, pair_change("fx", None))

    assert (e.key, e.problem) == ("pairs.CU_SHFE_LME.fx", "missing: USD prices must be converted to CNY")


def test_fx_source_for_the_wrong_currencies_is_refused(tmp_path):
    text = set_key(set_key(shipped_text(), "fx.USDCNH", "base", '"EUR"'), "fx.USDCNH", "quote", '"CNY"')

    e = refused(tmp_path, text)

    assert e.key == "pairs.CU_SHFE_LME.fx" and "EUR/CNY" in e.problem


def test_unknown_fx_source_is_refused(tmp_path):
    e = refused(tmp_path, pair_change("fx", '"EURCNH"'))

    assert (e.key, e.problem, e.remedy) == ("pairs.CU_SHFE_LME.fx", "unknown FX source 'EURCNH'", "define [fx.EURCNH]")


def test_fx_source_without_market_data_or_rate_is_refused(tmp_path):
    e = refused(tmp_path, set_key(shipped_text(), "fx.USDCNH", "venue", None))

    assert e.key == "fx.USDCNH.venue" and e.problem == "no source"


def test_instruments_of_incompatible_units_are_refused(tmp_path):
    e = refused(tmp_path, set_key(shipped_text(), "instruments.LME_CA", "unit", '"bbl"'))

    assert (e.key, e.problem) == ("pairs.CU_SHFE_LME.outer", "bbl cannot be converted to t")


def test_unknown_unit_is_refused(tmp_path):
    e = refused(tmp_path, set_key(shipped_text(), "instruments.LME_CA", "unit", '"tonnes"'))

    assert (e.key, e.problem) == ("instruments.LME_CA.unit", "unknown unit 'tonnes'")


def test_max_position_below_ticket_qty_is_refused(tmp_path):
    e = refused(tmp_path, pair_change("max_position", "20"))

    assert (e.key, e.problem) == ("pairs.CU_SHFE_LME.max_position", "20 is below ticket_qty 25")


def test_ticket_needing_more_inner_lots_than_allowed_is_refused(tmp_path):
    e = refused(tmp_path, set_key(shipped_text(), "instruments.SHFE_CU", "max_order_qty", "4"))

    assert (e.key, e.problem) == ("pairs.CU_SHFE_LME.ticket_qty", "needs 5 lots of SHFE_CU, above its max_order_qty 4")


def test_inner_and_outer_the_same_is_refused(tmp_path):
    e = refused(tmp_path, pair_change("outer", '"SHFE_CU"'))

    assert e.key == "pairs.CU_SHFE_LME.outer" and "same instrument" in e.problem


def test_two_instruments_with_one_venue_symbol_are_refused(tmp_path):
    e = refused(tmp_path, set_key(shipped_text(), "instruments.COMEX_HG", "venue", '"LME"').replace(
        'symbol = "HG"', 'symbol = "CA"'))

    assert e.key == "instruments.COMEX_HG.symbol" and "instruments.LME_CA" in e.problem


@pytest.mark.parametrize("key, value", [("ticket_qty", "0"), ("ticket_qty", '"lots"'), ("tax_factor", "-1"),
                                        ("inner_slippage_ticks", "1.5"), ("tif", '"GTC"'), ("enabled", '"yes"')])
def test_value_of_the_wrong_kind_is_refused_naming_the_key(tmp_path, key, value):
    e = refused(tmp_path, pair_change(key, value))

    assert e.key == f"pairs.CU_SHFE_LME.{key}"


def test_missing_required_key_is_refused(tmp_path):
    e = refused(tmp_path, set_key(shipped_text(), "instruments.LME_CA", "tick", None))

    assert (e.key, e.problem) == ("instruments.LME_CA.tick", "missing")


def test_bad_toml_is_refused_naming_the_file(tmp_path):
    e = refused(tmp_path, shipped_text() + "\n[pairs.X\n")

    assert e.problem.startswith("not valid TOML") and e.key is None
    assert e.line().startswith(f"{tmp_path / 'strategy.toml'}: not valid TOML")


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_strategy(tmp_path / "nope.toml")

    assert (e.value.file, e.value.problem) == (str(tmp_path / "nope.toml"), "file not found")


@pytest.mark.parametrize("namespace", ["X-1", "X 1", "ABCDE", "Ü", "x²"])
def test_namespace_that_is_not_1_to_4_ascii_letters_or_digits_is_refused(tmp_path, namespace):
    e = refused(tmp_path, set_key(shipped_text(), "engine", "namespace", f'"{namespace}"'))

    assert e.key == "engine.namespace" and "not 1-4 letters or digits" in e.problem


@pytest.mark.parametrize("namespace", ["X", "A1", "Z9Q7"])
def test_short_alphanumeric_namespace_is_accepted(tmp_path, namespace):
    s = load_strategy(write(tmp_path, set_key(shipped_text(), "engine", "namespace", f'"{namespace}"')))

    assert s.engine.namespace == namespace


def test_empty_namespace_is_refused(tmp_path):
    assert refused(tmp_path, set_key(shipped_text(), "engine", "namespace", '""')).key == "engine.namespace"
