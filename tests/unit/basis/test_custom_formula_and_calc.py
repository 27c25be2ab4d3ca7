"""User-defined basis formulas, the carry residual policy and `xmc basis calc`, against hand-worked
figures."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import CliRunner

from xmc_fix.basis.calc import Quote2, calc, parse_price, render
from xmc_fix.basis.pricing import PairPricer
from xmc_fix.cli import cli
from xmc_fix.config import load_strategy
from xmc_fix.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
STRATEGY = ROOT / "sessions" / "strategy.toml"


def _variant(tmp_path, old: str, new: str):
    p = tmp_path / "s.toml"
    text = STRATEGY.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))
    return load_strategy(p)


def test_a_custom_formula_prices_with_named_inputs(tmp_path):
    s = _variant(tmp_path, 'formula = "spread"\ntax_factor = 1.13',
                 'formula = "inner - (outer * unit_factor * fx * tax + freight)"\ninputs = { freight = 80 }\n'
                 'tax_factor = 1.13')
    pc = s.pairs["CU_SHFE_LME"]
    p = PairPricer(pc, s.instruments[pc.inner], s.instruments[pc.outer], s.fx[pc.fx])
    # 77300 - (9500 x 1 x 7.2 x 1.13 + 80) = 77300 - (77292 + 80) = -72
    assert p.basis(D("77300"), D("9500"), D("7.2")) == D("-72.000")


@pytest.mark.parametrize("formula, piece", [("inner - __import__('os')", "__import__"), ("inner.real", "inner.real"),
                                            ("inner - nope", "nope")])
def test_an_unsafe_or_unknown_formula_is_refused_when_the_file_loads(tmp_path, formula, piece):
    with pytest.raises(ConfigError) as e:
        _variant(tmp_path, 'formula = "spread"\ntax_factor = 1.13', f'formula = "{formula}"\ntax_factor = 1.13')
    assert e.value.key == "pairs.CU_SHFE_LME.formula" and piece in str(e.value)


def test_basis_calc_shows_each_way_and_the_aligned_lots():
    s = load_strategy(STRATEGY)
    r = calc(s, "CU_SHFE_LME", {"SHFE": Quote2(D("77280"), D("77290")), "LME": Quote2(D("9480"), D("9480.5"))},
             fx=D("7.2"))
    # sell: 77280 - 9480.5 x 7.2 x 1.13 = 77280 - 77133.348 = 146.652
    # buy:  77290 - 9480   x 7.2 x 1.13 = 77290 - 77129.28  = 160.72
    assert D(r["basis"]["sell"]) == D("146.652") and D(r["basis"]["buy"]) == D("160.72")
    q = r["quantity"]
    assert (q["inner_lots"], q["outer_lots"], q["residual"]) == ("5", "1", "0")
    text = render(r)
    assert "basis sell = 146.6520" in text and "5 SHFE_CU lots (25 t) against 1 LME_CA lots" in text


def test_basis_calc_states_the_residual_of_mixed_contract_sizes():
    s = load_strategy(STRATEGY)
    r = calc(s, "CU_SHFE_COMEX", {"SHFE": Quote2(D("77300"), D("77300")), "COMEX": Quote2(D("4.31"), D("4.31"))},
             fx=D("7.2"), qty=D(50))
    q = r["quantity"]
    # 9 x 5 t = 45 t against 4 x 25,000 lb = 45.359237 t
    assert (q["inner_lots"], q["outer_lots"], q["residual"]) == ("9", "4", "-0.359237")
    assert "mid" in r["basis"]


def test_basis_calc_needs_every_leg_and_the_fx():
    s = load_strategy(STRATEGY)
    with pytest.raises(ConfigError, match="no price for LME"):
        calc(s, "CU_SHFE_LME", {"SHFE": Quote2(D(1), D(1))}, fx=D("7.2"))
    with pytest.raises(ConfigError, match="--fx"):
        calc(s, "CU_SHFE_LME", {"SHFE": Quote2(D(1), D(1)), "LME": Quote2(D(1), D(1))})
    with pytest.raises(ConfigError, match="unknown pair"):
        calc(s, "NOPE", {}, fx=D(1))


@pytest.mark.parametrize("text, venue, bid, ask", [("SHFE=77300", "SHFE", "77300", "77300"),
                                                   ("LME=9480/9480.5", "LME", "9480", "9480.5")])
def test_prices_parse_as_one_price_or_bid_and_ask(text, venue, bid, ask):
    v, q = parse_price(text)
    assert (v, q.bid, q.ask) == (venue, D(bid), D(ask))


@pytest.mark.parametrize("bad", ["SHFE", "=1", "SHFE=abc", "SHFE=2/1"])
def test_bad_prices_are_refused(bad):
    with pytest.raises(ConfigError):
        parse_price(bad)


def _xmc_basis_calc(tmp_path, *args):
    res = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "xmc.log"), "basis", "calc", "--pair", "CU_SHFE_LME",
                                   "--fx", "7.2", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_xmc_basis_calc_names_the_signal_the_engines_rule_gives(tmp_path):
    # sell: 77550 - 9480.5 x 7.2 x 1.13 = 77550 - 77133.348 = 416.652 >= entry_above 250
    out = _xmc_basis_calc(tmp_path, "--price", "SHFE=77550/77560", "--price", "LME=9480/9480.5")
    assert "basis sell = 416.6520" in out
    assert "signal at position 0 t: sell basis (open: entry_above 250 crossed)" in out

    doc = json.loads(_xmc_basis_calc(tmp_path, "--price", "SHFE=77550/77560", "--price", "LME=9480/9480.5", "--json"))
    assert doc["signal"] == {"position": "0", "signal": "sell basis (open: entry_above 250 crossed)"}


def test_xmc_basis_calc_says_none_between_the_thresholds(tmp_path):
    # sell 146.652, buy 160.72: inside entry_below -250 .. entry_above 250, and nothing held
    out = _xmc_basis_calc(tmp_path, "--price", "SHFE=77280/77290", "--price", "LME=9480/9480.5")
    assert "signal at position 0 t: none" in out


def test_xmc_basis_calc_at_a_short_position_names_the_exit(tmp_path):
    # buy: 77110 - 9480 x 7.2 x 1.13 = 77110 - 77129.28 = -19.28 <= exit_above 60, and 25 t short held
    out = _xmc_basis_calc(tmp_path, "--price", "SHFE=77100/77110", "--price", "LME=9480/9480.5", "--position", "-25")
    assert "signal at position -25 t: buy basis (close: exit_above 60 crossed)" in out
    # the same prices with nothing held: no exit to take
    assert "signal at position 0 t: none" in _xmc_basis_calc(tmp_path, "--price", "SHFE=77100/77110",
                                                             "--price", "LME=9480/9480.5")
