"""The layers of coop, checked on the source: the kernel (coop/_core) is reached only through
its contract, coop.lowlevel, and knows nothing of what is built on it.

An import is read from the syntax tree, so one made inside a function counts too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "coop"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "_build" not in p.name)

#: The modules outside coop/_core that may import it: the contract, and the facade of the
#: kernel's own effects (coop.sleep, coop.spawn, ... are compiled with the kernel).
CORE_FACADES = {"coop.lowlevel", "coop.effects"}
#: What the kernel may import of the rest of coop: leaf modules that import nothing of coop.
CORE_MAY_USE = {"coop", "coop._native", "coop.errors", "coop.clock", "coop.policy"}
#: At most this many SLF001 exemptions (noqa comments) outside the kernel, each with its reason.
MAX_PRIVATE_ACCESSES = 5


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every coop module ``path`` imports, as absolute names (``from . import x`` gives the
    package, and ``package.x`` too when x is a module)."""
    name = _name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names
                         if f"{target}.{alias.name}" in _MODULE_NAMES)
    return {m for m in found if m == "coop" or m.startswith("coop.")}


_MODULE_NAMES = {_name(p) for p in MODULES}


def _in_core(module: str) -> bool:
    return module == "coop._core" or module.startswith("coop._core.")


def test_the_modules_are_found():
    names = {_name(p) for p in MODULES}
    assert {"coop.lowlevel", "coop._core._run", "coop._core._task"} <= names


@pytest.mark.parametrize("path", [p for p in MODULES if not _in_core(_name(p))],
                         ids=lambda p: _name(p))
def test_only_the_contract_reaches_into_the_kernel(path: Path):
    if _name(path) in CORE_FACADES:
        return
    reached = sorted(m for m in _imports(path) if _in_core(m))
    assert not reached, (f"{_name(path)} imports {reached}: use coop.lowlevel (add what is "
                         f"missing to the contract rather than reaching past it)")


@pytest.mark.parametrize("path", [p for p in MODULES if _in_core(_name(p))],
                         ids=lambda p: _name(p))
def test_the_kernel_knows_nothing_of_what_is_built_on_it(path: Path):
    outside = sorted(m for m in _imports(path) if not _in_core(m) and m not in CORE_MAY_USE)
    assert not outside, f"{_name(path)} imports {outside}"


def test_private_state_is_reached_past_the_contract_rarely_and_never_silently():
    # ruff's SLF001 runs on coop/ outside the kernel (pyproject.toml); an exception must say
    # why (the measurement that justifies it) on its own line.
    noqa = re.compile(r"#\s*noqa:[^#]*\bSLF001\b(.*)")
    exceptions = []
    for path in MODULES:
        if _in_core(_name(path)):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = noqa.search(line)
            if match:
                exceptions.append((f"{_name(path)}:{number}", match.group(1).strip(" -:")))
    assert len(exceptions) <= MAX_PRIVATE_ACCESSES, exceptions
    unexplained = [where for where, why in exceptions if len(why) < 20]
    assert not unexplained, f"say why beside the noqa: {unexplained}"


def test_the_rule_itself_is_on():
    config = (PACKAGE.parent / "pyproject.toml").read_text()
    assert re.search(r'select = \[[^\]]*"SLF"', config), "ruff's SLF rules are not selected"
    assert re.search(r'"coop/_core/\*\*" = \[[^\]]*"SLF', config), (
        "the kernel is the one place SLF001 is let be")
