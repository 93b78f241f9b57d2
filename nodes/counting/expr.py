"""A small, safe expression language for workout conditions and derived metrics.

Numbers, metric names, + - * / %, comparisons (chains allowed), and/or/not, parentheses and
the functions abs, min, max. The text is parsed with Python's ``ast`` module and only these
node kinds are accepted; evaluation walks the tree itself (no ``eval``).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Mod: operator.mod}  # fmt: skip
_CMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq,
        ast.NotEq: operator.ne}  # fmt: skip
_FUNCS: dict[str, Callable[..., float]] = {"abs": abs, "min": min, "max": max}


class ExprError(ValueError):
    """A syntax error or unknown name, with the column where it is."""


@dataclass(frozen=True)
class Expr:
    """A parsed expression; ``names`` are the metrics it reads."""

    text: str
    tree: ast.expression
    names: frozenset[str]

    def __call__(self, values: Mapping[str, float]) -> float:
        """Evaluate; a missing or NaN input makes the result NaN (comparisons: False)."""
        return _eval(self.tree.body, values)


def parse(text: str | float | int, known: set[str] | None = None) -> Expr:
    """Parse ``text``; with ``known``, any other name is an error."""
    source = str(text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"syntax error in '{source}' at column {exc.offset}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in _FUNCS:
                names.add(node.id)
        elif isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCS) or node.keywords:
                raise ExprError(f"only abs(), min(), max() may be called, in '{source}'")
        elif not isinstance(node, _ALLOWED):
            col = getattr(node, "col_offset", None)
            at = f" (column {col + 1})" if col is not None else ""
            raise ExprError(f"'{type(node).__name__}' is not allowed in '{source}'{at}")
        elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise ExprError(f"only numbers may be constants, in '{source}'")
    if known is not None:
        unknown = sorted(names - known)
        if unknown:
            raise ExprError(f"unknown name '{unknown[0]}' in '{source}' (known: {', '.join(sorted(known))})")
    return Expr(source, tree, frozenset(names))


_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp, ast.Compare,
    ast.Constant, ast.Name, ast.Load, ast.Call, *_BIN, *_CMP,
)  # fmt: skip


_OP_TEXT = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def comparisons(expr: Expr) -> list[tuple[str, str, float]]:
    """Every ``name OP number`` (or ``number OP name``, turned round) in the expression: the
    thresholds a plot of that metric can draw."""
    flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
    out = []
    for node in ast.walk(expr.tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, a, b in zip(node.ops, operands, operands[1:], strict=False):
            text = _OP_TEXT[type(op)]
            if isinstance(a, ast.Name) and isinstance(b, ast.Constant):
                out.append((a.id, text, float(b.value)))
            elif isinstance(a, ast.Constant) and isinstance(b, ast.Name):
                out.append((b.id, flipped[text], float(a.value)))
    return out


def _eval(node: ast.AST, values: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        v = values.get(node.id)
        return math.nan if v is None else float(v)
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, values), _eval(node.right, values)
        try:
            return _BIN[type(node.op)](left, right)
        except ZeroDivisionError:
            return math.nan
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, values)
        if isinstance(node.op, ast.Not):
            return float(not _truthy(v))
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BoolOp):
        results = [_truthy(_eval(v, values)) for v in node.values]
        return float(all(results) if isinstance(node.op, ast.And) else any(results))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, values)
            if math.isnan(left) or math.isnan(right) or not _CMP[type(op)](left, right):
                return 0.0
            left = right
        return 1.0
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_eval(a, values) for a in node.args]
        if any(math.isnan(a) for a in args):
            return math.nan
        return float(_FUNCS[node.func.id](*args))
    raise ExprError(f"cannot evaluate {type(node).__name__}")


def _truthy(v: float) -> bool:
    return not math.isnan(v) and v != 0.0
