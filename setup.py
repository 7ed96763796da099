"""Builds coop's compiled kernel with mypyc when it can; coop runs as pure Python when it cannot.

``pip install .`` (or ``-e .``) compiles ``coop/task.py`` and ``coop/kernel.py`` into C
extensions beside them and records the sources' digests in ``coop/_build_info.py``. At import,
``coop/_native.py`` uses the compiled modules only if those digests still match the sources, so
an edited kernel.py runs as written until the next install. A missing compiler, a failed
compile or ``COOP_PURE=1`` at install leaves a working pure-Python coop, never a failed install.
"""

from __future__ import annotations

import ast
import hashlib
import os
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
# What the compiled build is made of, from its one list in coop/_native.py.
_NATIVE = runpy.run_path(str(ROOT / "coop" / "_native.py"))
COMPILED = tuple(f"coop/{name}.py" for name in _NATIVE["COMPILED_MODULES"])
C_HELPER = _NATIVE["C_HELPER"]
BUILD_INFO = ROOT / "coop" / "_build_info.py"


def _say(message: str) -> None:
    print(f"coop setup: {message}", file=sys.stderr, flush=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _class_docstrings(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    return {node.name: doc for node in tree.body if isinstance(node, ast.ClassDef)
            if (doc := ast.get_docstring(node, clean=False))}


def _forget_build() -> None:
    if BUILD_INFO.exists():
        BUILD_INFO.unlink()


_translated: list[Any] | None = None


def _mypyc_extensions() -> list[Any]:
    global _translated
    if _translated is None:  # build_ext is finalized more than once per install
        _translated = _translate()
    return _translated


def _translate() -> list[Any]:
    if os.environ.get("COOP_PURE"):
        _say("COOP_PURE is set: installing the pure-Python kernel")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        _say(f"mypyc is not available ({exc}): installing the pure-Python kernel")
        return []
    try:
        # The group's shared library goes inside the package (coop._native__mypyc), so an
        # editable install, which maps only the coop package, can import it.
        extensions = list(mypycify(list(COMPILED), opt_level="3", group_name="coop._native"))
    except BaseException as exc:  # mypyc reports type errors by SystemExit
        _say(f"mypyc could not translate the kernel ({exc!r}): installing pure Python")
        return []
    return [*extensions, Extension(f"coop.{C_HELPER}", [f"coop/{C_HELPER}.c"])]


class OptionalBuildExt(build_ext):
    """Translates and compiles the kernel; a missing or failing compiler leaves coop pure
    Python, not uninstallable.

    mypyc runs here, not when setup.py is loaded: pip loads it several times per install.
    """

    def finalize_options(self) -> None:
        _forget_build()  # until this build succeeds, the runtime must not trust old binaries
        self.distribution.ext_modules = _mypyc_extensions()
        super().finalize_options()

    def run(self) -> None:
        if not self.extensions:
            return
        try:
            super().run()
        except Exception as exc:
            _say(f"compiling the kernel failed ({exc}): coop will run as pure Python")
            return
        digests = {name: _digest(ROOT / "coop" / source)
                   for name, source in _NATIVE["BUILT_FROM"].items()}
        docs = {Path(p).stem: _class_docstrings(ROOT / p) for p in COMPILED}
        info = ('"""Written by setup.py: the sources the compiled kernel was built from, and\n'
                'the class docstrings that mypyc leaves out (coop._native puts them back)."""\n\n'
                f"SOURCES = {digests!r}\n\nCLASS_DOCS = {docs!r}\n")
        BUILD_INFO.write_text(info)
        if not self.inplace:  # a wheel: the package was copied to build_lib before this ran
            packaged = Path(self.build_lib) / "coop" / BUILD_INFO.name
            if packaged.parent.is_dir():
                packaged.write_text(info)
        _say("compiled kernel built (mypyc)")


# A placeholder so that setuptools knows there are extensions to build (a platform wheel, the
# build_ext step); OptionalBuildExt replaces it with mypyc's.
setup(ext_modules=[Extension("coop._native__mypyc", sources=[])],
      cmdclass={"build_ext": OptionalBuildExt})
