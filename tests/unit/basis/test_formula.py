"""Safe formulas: arithmetic over named inputs is compiled; everything else is refused up front."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmc_fix.basis.formula import Formula, FormulaError
from xmc_fix.errors import XmcError


def make_formula(text: str, **overrides) -> Formula:
    return Formula(text, **overrides)


ENV = {"inner": D(80000), "outer": D(9800), "fx": D("7.2"), "tax": D("1.13")}


# -- allowed arithmetic ----------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("inner - outer * fx * tax", D("267.2")),          # 80000 - 9800 x 7.2 x 1.13 = 80000 - 79732.8
    ("(inner - outer * fx) / 1000", D("9.44")),          # (80000 - 70560) / 1000
    ("-inner + 1", D(-79999)),
    ("+inner", D(80000)),
    ("2 * (outer + 200)", D(20000)),
    ("inner / 4 / 2", D(10000)),                         # left-associative: (80000 / 4) / 2
    ("inner - outer - fx", D("70192.8")),                # (80000 - 9800) - 7.2
    ("min(inner, outer, fx)", D("7.2")),
    ("max(inner, outer)", D(80000)),
    ("abs(outer - inner)", D(70200)),
    ("max(0, min(inner - outer * fx, 10000))", D(9440)),
    ("0.1 + 0.2", D("0.3")),                             # Decimal: exactly 0.3
    ("42", D(42)),
])
def test_allowed_arithmetic_evaluates_in_decimal(text, expected):
    result = make_formula(text)(ENV)

    assert result == expected
    assert isinstance(result, D)


def test_float_number_type_evaluates_in_float():
    f = make_formula("a + 0.2", number=float)

    result = f({"a": 0.1})

    assert isinstance(result, float)
    assert result == 0.1 + 0.2  # binary float, as asked for: 0.30000000000000004


def test_decimal_constants_keep_every_digit_written():
    # 1.23456789012345678 has more digits than a float holds; through float it would lose the 8
    assert make_formula("1.23456789012345678")({}) == D("1.23456789012345678")
    assert make_formula("x * 0.45359237")({"x": D(25000)}) == D("11339.80925")


@pytest.mark.parametrize("text, expected", [("1_000.5", D("1000.5")), (".5", D("0.5")), ("5.", D(5)),
                                            ("1E5", D(100000)), ("2.5e-3", D("0.0025")), ("0x10", D(16))])
def test_number_literals_in_any_python_spelling(text, expected):
    assert make_formula(text)({}) == expected
    assert make_formula(text, number=float)({}) == float(expected)


def test_decimal_constant_beyond_float_range_stays_finite():
    assert make_formula("1e400")({}) == D("1e400")


def test_integer_constants_are_exact():
    assert make_formula("123456789012345678901234567 + 1")({}) == D("123456789012345678901234568")


def test_names_are_the_inputs_read():
    assert make_formula("max(inner, outer) * fx + 1").names == frozenset({"inner", "outer", "fx"})


def test_constant_formula_reads_no_inputs():
    assert make_formula("1 + 2").names == frozenset()


def test_formula_is_reusable_with_other_inputs():
    f = make_formula("a - b")

    assert (f({"a": D(5), "b": D(3)}), f({"a": D(1), "b": D(3)})) == (D(2), D(-2))


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9, places=4),
       st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9, places=4))
def test_formula_agrees_with_python_arithmetic(a, b):
    f = make_formula("max(a, b) - min(a, b) + abs(a) * 2 - -b")

    assert f({"a": a, "b": b}) == max(a, b) - min(a, b) + abs(a) * 2 - -b


# -- names -----------------------------------------------------------------------------------------
def test_known_names_are_accepted():
    f = make_formula("inner - outer", allowed_names={"inner", "outer", "fx"})

    assert f.names == frozenset({"inner", "outer"})


def test_unknown_name_is_refused_and_named():
    with pytest.raises(FormulaError, match="unknown input 'outr'"):
        make_formula("inner - outr", allowed_names={"inner", "outer"})


def test_unknown_name_refusal_lists_the_known_ones():
    with pytest.raises(FormulaError, match="known: fx, inner, outer"):
        make_formula("spot", allowed_names={"inner", "outer", "fx"})


# -- refused --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "inner.real",                        # attribute access
    "inner.__class__",
    "().__class__.__bases__",
    "__import__('os').system('true')",   # a call to another name
    "open('/etc/passwd')",
    "eval('1')",
    "round(inner)",
    "min(inner, key=abs)",               # keyword arguments
    "min(*inner)",                       # star-args
    "min.__call__(1, 2)",                # a call through an attribute
    "(lambda: 1)()",                     # lambda, and calling it
    "lambda x: x",
    "inner[0]",                          # subscripts
    "inner[1:2]",
    "'abc'",                             # strings
    "b'abc'",
    "f'{inner}'",
    "inner ** 2",                        # other operators
    "inner // 2",
    "inner % 2",
    "inner << 1",
    "inner & 1",
    "~inner",
    "not inner",
    "inner < outer",                     # comparisons, boolean logic, conditionals
    "inner and outer",
    "inner if outer else fx",
    "[inner]",                           # containers and comprehensions
    "(inner, outer)",
    "{inner: 1}",
    "[x for x in inner]",
    "True",                              # booleans, None, complex, ellipsis
    "None",
    "1j",
    "...",
    "(x := 1)",                          # walrus
    "min()",                             # min/max/abs without their arguments
    "abs()",
])
def test_anything_but_arithmetic_is_refused_with_formula_error(text):
    with pytest.raises(FormulaError):
        make_formula(text)


@pytest.mark.parametrize("text", ["abs(inner, outer)", "min(inner)", "max(inner)"])
def test_wrong_number_of_arguments_is_refused_when_compiled(text):
    with pytest.raises(FormulaError):
        make_formula(text)


@pytest.mark.parametrize("text", ["", "inner -", "1 +* 2", "inner outer", "import os", "x = 1", "x\0"])
def test_text_that_does_not_parse_is_refused_with_formula_error(text):
    with pytest.raises(FormulaError, match="not a valid formula"):
        make_formula(text)


def test_refusal_names_the_offending_piece():
    with pytest.raises(FormulaError) as info:
        make_formula("inner - outer.real * 2")

    assert "'outer.real'" in str(info.value)


def test_formula_error_is_an_xmc_error():
    assert issubclass(FormulaError, XmcError)


def test_repr_shows_the_text():
    assert repr(make_formula("a + b")) == "Formula('a + b')"
