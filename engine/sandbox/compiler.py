"""Compiling diagram code: RestrictedPython's policy with our guards and checkpoints, cached."""

from __future__ import annotations

import ast
import functools
import re
import textwrap
import types
from typing import Any, Final

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from engine.errors import N_
from engine.sandbox.errors import DIAGRAM_FILENAME
from engine.sandbox.limits import MAX_INT_BITS

CACHE_SIZE: Final = 2048  # compiled sources kept per process
NO_IMPORTS: Final = N_("imports are not allowed in diagram code")
NO_CLASSES: Final = N_("class definitions are not allowed in diagram code")
NO_YIELD: Final = N_("generators (yield) are not allowed in diagram code")
NO_YIELD_FROM: Final = N_("generators (yield from) are not allowed in diagram code")
TOO_DEEP: Final = N_("the code is nested too deeply")
NOT_COMPILED: Final = N_("the code does not compile")
# The sandbox's own refusals, which a page may say in its language; the other problems are
# Python's and RestrictedPython's words (quoted as they are).
OWN_PROBLEMS: Final = frozenset({NO_IMPORTS, NO_CLASSES, NO_YIELD, NO_YIELD_FROM, TOO_DEEP,
                                 NOT_COMPILED})

# The guard each operator is rewritten to call; guards.GUARDS says what each name stands for.
_GUARDED_BINOPS: Final[dict[type[ast.operator], str]] = {
    ast.Mult: "_mul_",
    ast.Add: "_add_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
    ast.FloorDiv: "_floordiv_",
}


def _call(name: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, where)
    return node


def _is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float | complex)


def _harmless_with_number(node: ast.BinOp) -> bool:
    """`x + 1` and `n // 2` cannot grow out of bounds: spare them the guard call.

    (`s % 7` is not harmless: s may be a format string with a huge width.)
    """
    if isinstance(node.op, ast.Add):
        return _is_number(node.left) or _is_number(node.right)
    return isinstance(node.op, ast.FloorDiv) and _is_number(node.right)


class _DiagramPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus size guards, budget checkpoints and clearer refusals."""

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, NO_IMPORTS)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, NO_IMPORTS)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, NO_CLASSES)
        return node

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        # A suspended generator's finally block could run later, outside any time budget.
        self.error(node, NO_YIELD)
        return node

    def visit_YieldFrom(self, node: ast.YieldFrom) -> ast.AST:
        self.error(node, NO_YIELD_FROM)
        return node

    def visit_Constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, int) and node.value.bit_length() > MAX_INT_BITS:
            self.error(node, f"integer literals may have at most {MAX_INT_BITS:,} bits")
        return super().visit_Constant(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _GUARDED_BINOPS.get(type(node.op))
        if guard is None or _harmless_with_number(node):
            return node
        return _call(guard, [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant("")
        node.value = _call("_format_", [node.value, ast.Constant(node.conversion), spec], node)
        node.conversion = -1
        node.format_spec = None
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = super().visit_ExceptHandler(node)
        node.body.insert(0, ast.Expr(_call("_checkpoint_", [], node)))
        copy_locations(node.body[0], node)
        if node.type is not None:  # `except f():` would run f before the body's checkpoint
            checked = ast.BoolOp(op=ast.Or(), values=[_call("_checkpoint_", [], node), node.type])
            copy_locations(checked, node.type)
            node.type = checked
        return node

    def visit_While(self, node: ast.While) -> Any:
        node = super().visit_While(node)
        # `while True: pass` compiles to a jump onto itself, which emits no line events;
        # a name load at the top of the body gives the tracer a line to stop on.
        marker = ast.Expr(ast.Name("_checkpoint_", ast.Load()))
        copy_locations(marker, node)
        node.body.insert(0, marker)
        return node

    def visit_Try(self, node: ast.Try) -> Any:
        node = super().visit_Try(node)
        if node.finalbody:
            node.finalbody.insert(0, ast.Expr(_call("_checkpoint_", [], node.finalbody[0])))
            copy_locations(node.finalbody[0], node.finalbody[1])
        return node


# The code, or None and the problems (line, message) that keep the source from compiling.
Compiled = tuple[types.CodeType | None, tuple[tuple[int | None, str], ...]]


def _parse_error(text: str) -> tuple[int | None, str]:
    match = re.match(r"Line (\d+|None): (.*)", text, re.DOTALL)
    if match is None:
        return None, text
    line = match.group(1)
    return (int(line) if line.isdigit() else None), match.group(2)


@functools.lru_cache(maxsize=CACHE_SIZE)
def compile_code(mode: str, source: str) -> Compiled:
    """`source` compiled in `mode` ("eval" or "exec") under the diagram policy, once per source."""
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename=DIAGRAM_FILENAME, policy=_DiagramPolicy)
    except (RecursionError, MemoryError):
        return None, ((None, TOO_DEEP),)
    except SyntaxError as exc:  # raised by compile() itself, e.g. 'return' outside a function
        return None, ((exc.lineno, exc.msg),)
    except ValueError as exc:
        return None, ((None, str(exc)),)
    if result.errors or result.code is None:
        return None, tuple(_parse_error(error) for error in result.errors) or (
            (None, NOT_COMPILED),
        )
    return result.code, ()


def prepare(mode: str, source: str) -> Compiled:
    """Diagram code as a diagram holds it, compiled: an expression stripped, a script dedented."""
    if not isinstance(source, str):
        return None, ((None, f"diagram code must be text, not {type(source).__name__}"),)
    return compile_code(mode, source.strip() if mode == "eval" else textwrap.dedent(source))


def check_expression(source: str) -> list[tuple[int | None, str]]:
    """Problems that keep `source` from compiling as an expression; [] when it is fine."""
    return list(prepare("eval", source)[1])


def check_script(source: str) -> list[tuple[int | None, str]]:
    """Problems that keep `source` from compiling as a script; [] when it is fine."""
    return list(prepare("exec", source)[1])
