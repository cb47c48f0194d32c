"""The package's shape, as docs/architecture.md states it: short functions with few parameters, and the
layers in folders, not as loose modules beside them. (`lint-imports` checks the layers' import order.)"""

from __future__ import annotations

import ast
from pathlib import Path

import fashionlens

PACKAGE = Path(fashionlens.__file__).parent
MAX_LINES, MAX_PARAMETERS, MAX_TOP_MODULES = 60, 8, 6


def functions() -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}", node))
    return found


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return len([name for name in names if name not in ("self", "cls")])


def is_command(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A Typer command: its parameters are the command line's options, declared where Typer reads them."""
    return any(".command(" in ast.unparse(decorator) for decorator in node.decorator_list)


def test_no_function_is_longer_than_sixty_lines():
    long = [
        f"{name} ({node.end_lineno - node.lineno + 1} lines)"
        for name, node in functions()
        if node.end_lineno - node.lineno + 1 > MAX_LINES
    ]
    assert long == []


def test_no_function_but_a_command_takes_more_than_eight_parameters():
    wide = [
        f"{name} ({parameter_count(node)})"
        for name, node in functions()
        if parameter_count(node) > MAX_PARAMETERS and not is_command(node)
    ]
    assert wide == []


def test_the_package_root_holds_layers_not_modules():
    modules = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(modules) <= MAX_TOP_MODULES, modules


def test_the_checks_see_what_they_should():
    # guards against a vacuous pass: the walk finds the package's functions, and the counts are right
    named = dict(functions())
    assert len(named) > 500
    load = next(node for name, node in named.items() if name.endswith(" load_analyzer") and "cli/" in name)
    assert parameter_count(load) == 4 and not is_command(load)
    assert any(is_command(node) for node in named.values())
