"""Safe arithmetic formulas over named inputs, for user-defined basis formulas and the simulator's
price model.

A formula is parsed with Python's ``ast`` and only numbers, names, ``+ - * /``, unary minus,
parentheses and the functions ``min``, ``max``, ``abs`` are accepted; anything else (attribute
access, calls to other names, subscripts, comprehensions, strings) is refused when the formula is
compiled, with the offending piece named. There is no ``eval``: the tree is turned into nested
closures once, and calling the result only does arithmetic.
"""

from __future__ import annotations

import ast
import operator
from decimal import Decimal
from typing import Callable, Mapping

from xmc_fix.errors import XmcError

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_FUNCS = {"min": min, "max": max, "abs": abs}


class FormulaError(XmcError):
    pass


class Formula:
    """A compiled formula. ``names`` are the inputs it reads."""

    __slots__ = ("text", "names", "_fn")

    def __init__(self, text: str, *, number: Callable[[str], object] = Decimal,
                 allowed_names: set[str] | frozenset[str] | None = None) -> None:
        self.text = text
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as e:
            raise FormulaError(f"{text!r}: not a valid formula ({e.msg})") from None
        names: set[str] = set()
        self._fn = _compile(tree.body, text, number, names)
        if allowed_names is not None:
            unknown = sorted(names - set(allowed_names))
            if unknown:
                raise FormulaError(f"{text!r}: unknown input {unknown[0]!r} "
                                   f"(known: {', '.join(sorted(allowed_names))})")
        self.names = frozenset(names)

    def __call__(self, env: Mapping[str, object]):
        return self._fn(env)

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"


def _compile(node: ast.AST, text: str, number, names: set[str]):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        # a float literal is read from its text: through a binary float a Decimal would lose digits
        literal = ast.get_source_segment(text, node) if isinstance(node.value, float) else None
        value = number(literal or str(node.value))
        return lambda env: value
    if isinstance(node, ast.Name):
        name = node.id
        names.add(name)
        return lambda env: env[name]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op = _BINOPS[type(node.op)]
        left = _compile(node.left, text, number, names)
        right = _compile(node.right, text, number, names)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _compile(node.operand, text, number, names)
        if isinstance(node.op, ast.USub):
            return lambda env: -inner(env)
        return inner
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS
            and not node.keywords and node.args):
        fn = _FUNCS[node.func.id]
        args = [_compile(a, text, number, names) for a in node.args]
        if fn is abs:
            if len(args) != 1:
                raise FormulaError(f"{text!r}: abs takes one argument")
            a0 = args[0]
            return lambda env: abs(a0(env))
        if len(args) < 2:  # min(x) would iterate over x when called
            raise FormulaError(f"{text!r}: {node.func.id} takes at least two arguments")
        return lambda env: fn(*(a(env) for a in args))
    piece = ast.get_source_segment(text, node) or type(node).__name__
    raise FormulaError(f"{text!r}: {piece!r} is not allowed (numbers, input names, + - * /, "
                       "parentheses, min, max, abs)")
