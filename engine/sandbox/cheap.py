"""The static check that lets diagram code run in the engine's own process: provably cheap code.

Anything the sandbox runs in-process holds the GIL for as long as it runs, and a single C-level
call (hashing a deeply shared tuple, `sum(map(sum, ...))`) is out of reach of the line tracer.
So only code whose cost is bounded by its own length and by the size of the values it reads
(task data, itself bounded when handed back) stays in-process; everything else goes to a worker
process with hard limits (engine/sandbox/pool.py).

Cheap, by construction (an AST whitelist, anything else is not cheap):
- expressions: names, constants (text up to MAX_CONSTANT characters), comparisons (`in` and
  `not in` only against a literal tuple or list of constants), `and`/`or`/`not`, unary
  `-`/`+`, `a if c else b`, attributes and subscripts with a constant or name index (no
  slices), tuple/list literals of cheap items, dict literals with constant keys, set literals
  of constants, `+`/`-` when one side is a constant (growth stays linear in the source), and
  calls of a few O(1) builtins (`len`, `bool`, `abs`, `int`/`float` of a name or constant,
  `min`/`max` of two to eight arguments) or of a few bounded text methods (`get`, `lower`,
  `upper`, `strip`, `startswith`, `endswith`);
- scripts: assignments of cheap expressions to names or to subscripts, `if`/`elif`/`else`
  over cheap conditions, `pass`, and constants (docstrings).
Loops, comprehensions, lambdas, definitions, host helper calls, `*`, `**`, `%`, f-strings,
slices and unpacking are not cheap. Sources longer than MAX_SOURCE are not cheap either.

`int(text)` is linear only while CPython's limit on integer digits from text is on (it is by
default, 4,300 digits); when a host switched it off, `int` of a name is not cheap.
"""

from __future__ import annotations

import ast
import functools
import sys
import textwrap
from typing import Final

MAX_SOURCE: Final = 4_000  # characters of diagram code a cheap verdict is given for
MAX_CONSTANT: Final = 1_000  # characters of a text constant in cheap code
MAX_LITERAL_ITEMS: Final = 64  # items of a literal tuple, list, dict or set

_COMPARISONS: Final = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot)
_UNARY: Final = (ast.Not, ast.USub, ast.UAdd)
_SIMPLE_CONSTANTS: Final = (str, bytes, int, float, bool, type(None))
# Builtins whose cost does not depend on their argument beyond its (bounded) size.
_BUILTIN_CALLS: Final = frozenset({"len", "bool", "abs", "int", "float", "min", "max"})
_METHODS: Final = frozenset({"get", "lower", "upper", "strip", "startswith", "endswith"})


def _constant(node: ast.AST) -> bool:
    if not isinstance(node, ast.Constant) or not isinstance(node.value, _SIMPLE_CONSTANTS):
        return False
    value = node.value
    if isinstance(value, str | bytes):
        return len(value) <= MAX_CONSTANT
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() <= 64
    return True


def _index(node: ast.AST) -> bool:
    return _constant(node) or (isinstance(node, ast.Name) and not node.id.startswith("_"))


def _literal_of_constants(node: ast.AST) -> bool:
    return (isinstance(node, ast.Tuple | ast.List)
            and len(node.elts) <= MAX_LITERAL_ITEMS and all(map(_constant, node.elts)))


def _call(node: ast.Call) -> bool:
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        name, args = func.id, node.args
        if name in ("int", "float"):
            if len(args) != 1 or not _index(args[0]):
                return False
            # int("9" * n) is quadratic once CPython's digit limit is switched off.
            return name != "int" or _constant(args[0]) or sys.get_int_max_str_digits() > 0
        if name in ("min", "max"):
            return 2 <= len(args) <= 8 and all(map(_expression, args))
        return name in _BUILTIN_CALLS and len(args) == 1 and _expression(args[0])
    if isinstance(func, ast.Attribute) and func.attr in _METHODS:
        return _expression(func.value) and len(node.args) <= 2 and all(map(_index, node.args))
    return False


def _expression(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return _constant(node)
    if isinstance(node, ast.Name):
        return not node.id.startswith("_")
    if isinstance(node, ast.BoolOp):
        return all(map(_expression, node.values))
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, _UNARY) and _expression(node.operand)
    if isinstance(node, ast.Compare):
        if not _expression(node.left):
            return False
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if not _literal_of_constants(right):
                    return False
            elif not (isinstance(op, _COMPARISONS) and _expression(right)):
                return False
        return True
    if isinstance(node, ast.IfExp):
        return _expression(node.test) and _expression(node.body) and _expression(node.orelse)
    if isinstance(node, ast.Attribute):
        return not node.attr.startswith("_") and _expression(node.value)
    if isinstance(node, ast.Subscript):
        return _index(node.slice) and _expression(node.value)
    if isinstance(node, ast.Tuple | ast.List):
        return len(node.elts) <= MAX_LITERAL_ITEMS and all(map(_expression, node.elts))
    if isinstance(node, ast.Dict):
        return (len(node.keys) <= MAX_LITERAL_ITEMS
                and all(key is not None and _constant(key) for key in node.keys)
                and all(map(_expression, node.values)))
    if isinstance(node, ast.Set):
        return len(node.elts) <= MAX_LITERAL_ITEMS and all(map(_constant, node.elts))
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, ast.Add | ast.Sub):
            return False
        sides = (node.left, node.right)
        return any(map(_constant, sides)) and all(map(_expression, sides))
    if isinstance(node, ast.Call):
        return _call(node)
    return False


def _target(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return not node.id.startswith("_")
    return isinstance(node, ast.Subscript) and _index(node.slice) and _expression(node.value)


def _statement(node: ast.stmt) -> bool:
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Expr):
        return _constant(node.value)
    if isinstance(node, ast.Assign):
        return all(map(_target, node.targets)) and _expression(node.value)
    if isinstance(node, ast.If):
        return (_expression(node.test) and all(map(_statement, node.body))
                and all(map(_statement, node.orelse)))
    return False


@functools.lru_cache(maxsize=4096)
def is_cheap(mode: str, source: str) -> bool:
    """Whether diagram code `source` is provably cheap; the verdict is cached per source.

    `mode` is "eval" for an expression, "exec" for a script; the source is read as the
    compiler reads it (an expression stripped, a script dedented). Code that does not parse
    is not cheap (the sandbox reports the compile error before asking).
    """
    if not isinstance(source, str) or len(source) > MAX_SOURCE:
        return False
    source = source.strip() if mode == "eval" else textwrap.dedent(source)
    try:
        tree = ast.parse(source, mode="eval" if mode == "eval" else "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    try:
        if isinstance(tree, ast.Expression):
            return _expression(tree.body)
        return all(map(_statement, tree.body))
    except RecursionError:
        return False
