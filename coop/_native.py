"""Chooses the kernel before anything imports it: compiled (mypyc) or pure Python.

setup.py compiles the modules of ``coop/_core/`` into C extensions beside them and records the
digests of the sources it compiled in ``_build_info.py``. The import system would load an
extension ahead of the ``.py`` file whatever its age, so this module decides instead: the
compiled modules run only when they were built from the sources now on disk; otherwise (or with
``COOP_PURE=1``, or when the package is loaded under another name, as the benchmarks load a
pure copy beside the compiled one) the ``.py`` files are loaded explicitly. The two behave the
same; the test command runs the kernel's tests against both.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType

# The one list of what the compiled build is made of: setup.py and dev.py read these names
# from this file (with runpy, without importing coop).
#: The modules mypyc compiles (names within the package), in import order: each imports only
#: those before it at run time.
COMPILED_MODULES = ("_core._task", "_core._waitqueue", "_core._timers", "_core._cext",
                    "_core._checks", "_core._cancelling", "_core._deadlock",
                    "_core._instruments", "_core._io", "_core._run", "_core._effects")
#: The compiled kernel's C helper (see its comment), built with it and only with it.
C_HELPER = "_core._resume"
#: Every extension of the compiled build and the source file it is built from (relative to
#: the package directory).
BUILT_FROM = {**{name: name.replace(".", "/") + ".py" for name in COMPILED_MODULES},
              C_HELPER: C_HELPER.replace(".", "/") + ".c"}

#: Where setup.py records a build (its digests, or why the kernel stayed pure).
MISSING_BUILD_INFO = "coop/_build_info.py"

_HERE = Path(__file__).resolve().parent

#: Why the pure-Python kernel runs (None when the compiled one does).
why_pure: str | None = "not chosen yet"


def _reason_to_stay_pure(package: str) -> str | None:
    if os.environ.get("COOP_PURE"):
        return "COOP_PURE is set"
    if package != "coop":
        return f"coop is loaded as {package!r}; the compiled modules are coop's own"
    build_info = _build_info(package)
    if build_info is None:
        return (f"{MISSING_BUILD_INFO} is missing: coop was not installed from this tree with "
                "pip, or the file was deleted since (reinstall to compile the kernel)")
    why_not_built: str | None = getattr(build_info, "WHY_PURE", None)
    if why_not_built:
        return f"the compiled kernel was not built: {why_not_built}"
    sources: dict[str, str] = getattr(build_info, "SOURCES", {})
    for name, source_name in BUILT_FROM.items():
        stem = _HERE / name.replace(".", "/")
        if not any(stem.with_name(stem.name + suffix).exists() for suffix in EXTENSION_SUFFIXES):
            return f"the compiled coop.{name} is missing"
        source = _HERE / source_name
        if source.exists() and hashlib.sha256(source.read_bytes()).hexdigest() != sources.get(name):
            return f"coop/{source_name} changed after the build (reinstall coop to recompile it)"
    return None


def _build_info(package: str) -> ModuleType | None:
    # Imported by name: the file exists only after a compiled build (and mypy must not need it).
    try:
        return importlib.import_module(f"{package}._build_info")
    except ImportError:
        return None


def select(package: str) -> None:
    """Import the compiled modules (``package._core._run``, ``package.sync.lock``...), or
    their ``.py`` sources when the pure-Python build runs."""
    global why_pure
    why_pure = _reason_to_stay_pure(package)
    if why_pure is None:
        try:
            for name in COMPILED_MODULES:
                _restore_class_docs(importlib.import_module(f"{package}.{name}"), name)
            return
        except ImportError as exc:  # say, built for another Python
            why_pure = f"the compiled kernel did not load ({exc})"
            for loaded in [m for m in sys.modules if m.startswith(f"{package}.")
                           and m.partition(".")[2].partition(".")[0] in _SUBPACKAGES]:
                del sys.modules[loaded]
    for subpackage in _SUBPACKAGES:
        # The package object first, its __init__ last: the import system would load the
        # compiled modules its __init__ imports (an extension wins over a .py), so they must
        # be in sys.modules, loaded from source, before it runs.
        shell = _new_module(f"{package}.{subpackage}", _HERE / subpackage / "__init__.py",
                            package_dir=_HERE / subpackage)
        setattr(sys.modules[package], subpackage, shell)
        for name in COMPILED_MODULES:
            if name.startswith(f"{subpackage}."):
                module = _load_source(f"{package}.{name}", _HERE / BUILT_FROM[name])
                setattr(shell, name.rpartition(".")[2], module)  # as the import system does
        _exec(shell)


#: The subpackages that hold compiled modules, in import order.
_SUBPACKAGES = tuple(dict.fromkeys(name.partition(".")[0] for name in COMPILED_MODULES))


def _new_module(full_name: str, path: Path, package_dir: Path | None = None) -> ModuleType:
    """The module (or, with ``package_dir``, the package) ``full_name`` made from ``path`` and
    entered in sys.modules, not yet run."""
    spec = importlib.util.spec_from_file_location(
        full_name, path,
        submodule_search_locations=None if package_dir is None else [str(package_dir)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[full_name] = module
    return module


def _exec(module: ModuleType) -> ModuleType:
    """Run a module made by _new_module; if it fails, it and its submodules are forgotten."""
    full_name = module.__name__
    assert module.__spec__ is not None and module.__spec__.loader is not None
    try:
        module.__spec__.loader.exec_module(module)
    except BaseException:
        for loaded in [m for m in sys.modules if m == full_name or m.startswith(full_name + ".")]:
            del sys.modules[loaded]
        raise
    return module


def _load_source(full_name: str, path: Path, package_dir: Path | None = None) -> ModuleType:
    """Import ``path`` as the module (or, with ``package_dir``, the package) ``full_name``."""
    return _exec(_new_module(full_name, path, package_dir))


def _restore_class_docs(module: object, name: str) -> None:
    # mypyc keeps no docstrings; help(coop.Task) should still explain the class. (Methods'
    # docstrings cannot be put back: the docs site and COOP_PURE=1 have them.)
    class_docs: dict[str, dict[str, str]] = getattr(_build_info("coop"), "CLASS_DOCS", {})
    for class_name, doc in class_docs.get(name, {}).items():
        cls = getattr(module, class_name, None)
        if cls is not None and not cls.__doc__:
            try:
                cls.__doc__ = doc
            except (AttributeError, TypeError):
                pass


def load_pure_copy(name: str = "coop_pure") -> ModuleType:
    """Load a second, pure-Python coop as the package ``name``, beside this one.

    Its classes are its own (a Task of one is no Task of the other). The benchmarks measure the
    compiled and the pure kernel side by side this way, and the docs tests read the docstrings
    that mypyc leaves out of the compiled modules.
    """
    if name in sys.modules:
        return sys.modules[name]
    return _load_source(name, _HERE / "__init__.py", package_dir=_HERE)


def c_helpers() -> ModuleType | None:
    """The compiled kernel's C helpers (``resume``, ``Returned``, ``untrack``, ``track``; see
    _resume.c); None for the pure-Python kernel, which does without them."""
    if why_pure is not None:
        return None
    return importlib.import_module(f"{__package__}.{C_HELPER}")


def kernel_build() -> str:
    """Which kernel this process runs: ``"compiled"`` (mypyc) or ``"pure Python: <why>"``.

    Both behave the same; the compiled one switches tasks, spawns and wakes faster. The pure
    one runs when ``COOP_PURE=1`` is set, when there was no C compiler at install, or when a
    file of ``coop/_core/`` was edited after the install (until the next ``pip install``), and
    the text after the colon says which.

    >>> coop.kernel_build().split(":")[0] in ("compiled", "pure Python")
    True
    """
    return "compiled" if why_pure is None else f"pure Python: {why_pure}"
