"""Builds coop's compiled kernel with mypyc when it can; coop runs as pure Python when it cannot.

``pip install .`` (or ``-e .``) compiles the modules of ``coop/_core/`` into C extensions
beside them and records the sources' digests in ``coop/_build_info.py``. At import,
``coop/_native.py`` uses the compiled modules only if those digests still match the sources, so
an edited kernel.py runs as written until the next install. A missing compiler, a failed
compile or ``COOP_PURE=1`` at install leaves a working pure-Python coop, never a failed install,
and ``_build_info.py`` then says why (``coop.kernel_build()`` reports it).

Only a build writes ``_build_info.py``: into the package being built (the working tree for an
editable install, the wheel's copy otherwise). Making an sdist compiles nothing and leaves the
working tree's build as it is.
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
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
# What the compiled build is made of, from its one list in coop/_native.py.
_NATIVE = runpy.run_path(str(ROOT / "coop" / "_native.py"))
COMPILED = tuple(f"coop/{_NATIVE['BUILT_FROM'][name]}" for name in _NATIVE["COMPILED_MODULES"])
C_HELPER = _NATIVE["C_HELPER"]
C_HELPER_SOURCE = f"coop/{_NATIVE['BUILT_FROM'][C_HELPER]}"
BUILD_INFO = ROOT / "coop" / "_build_info.py"


def _say(message: str) -> None:
    print(f"coop setup: {message}", file=sys.stderr, flush=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _class_docstrings(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    return {node.name: doc for node in tree.body if isinstance(node, ast.ClassDef)
            if (doc := ast.get_docstring(node, clean=False))}


_translated: list[Any] | None = None
#: Why this build installs the pure-Python kernel (None while a compiled one is possible).
_why_pure: str | None = None


def _mypyc_extensions() -> list[Any]:
    global _translated
    if _translated is None:  # build_ext is finalized more than once per install
        _translated = _translate()
    return _translated


def _stay_pure(why: str) -> list[Any]:
    global _why_pure
    _why_pure = why
    _say(f"{why}: installing the pure-Python kernel")
    # Still an extension to build: with none, setuptools skips build_ext, and the build
    # info of an older build would stay, unexplained (OptionalBuildExt.run compiles nothing).
    return [Extension("coop._native__mypyc", sources=[])]


def _translate() -> list[Any]:
    if os.environ.get("COOP_PURE"):
        return _stay_pure("COOP_PURE was set when coop was installed")
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        return _stay_pure(f"mypyc was not available when coop was installed ({exc})")
    try:
        # The group's shared library goes inside the package (coop._native__mypyc), so an
        # editable install, which maps only the coop package, can import it.
        extensions = list(mypycify(list(COMPILED), opt_level="3", group_name="coop._native"))
    except BaseException as exc:  # mypyc reports type errors by SystemExit
        return _stay_pure(f"mypyc could not translate the kernel at install ({exc!r})")
    return [*extensions, Extension(f"coop.{C_HELPER}", [C_HELPER_SOURCE])]


def _build_info_text(sources: dict[str, str], class_docs: dict[str, dict[str, str]],
                     why_pure: str | None) -> str:
    return ('"""Written by setup.py: the sources the compiled kernel was built from, the class\n'
            'docstrings that mypyc leaves out (coop._native puts them back), and why the\n'
            'kernel is pure Python if it is."""\n\n'
            f"SOURCES = {sources!r}\n\nCLASS_DOCS = {class_docs!r}\n\nWHY_PURE = {why_pure!r}\n")


class OptionalBuildExt(build_ext):
    """Translates and compiles the kernel; a missing or failing compiler leaves coop pure
    Python, not uninstallable.

    mypyc runs here, not when setup.py is loaded: pip loads it several times per install.
    """

    def finalize_options(self) -> None:
        self.distribution.ext_modules = _mypyc_extensions()
        super().finalize_options()

    def _write_build_info(self, info: str) -> None:
        # In place (an editable install) the working tree is the package; otherwise the
        # package was copied to build_lib before this ran, and only that copy is this build's.
        if self.inplace:
            BUILD_INFO.write_text(info)
            return
        packaged = Path(self.build_lib) / "coop" / BUILD_INFO.name
        if packaged.parent.is_dir():
            packaged.write_text(info)

    def run(self) -> None:
        if _why_pure is not None:
            self._write_build_info(_build_info_text({}, {}, _why_pure))
            return
        # Until this build succeeds, the runtime must not trust the binaries of an older one.
        unfinished = "the last build of the compiled kernel did not finish"
        self._write_build_info(_build_info_text({}, {}, unfinished))
        try:
            super().run()
        except Exception as exc:
            why = f"compiling the kernel failed at install ({exc})"
            self._write_build_info(_build_info_text({}, {}, why))
            _say(f"{why}: coop will run as pure Python")
            return
        digests = {name: _digest(ROOT / "coop" / source)
                   for name, source in _NATIVE["BUILT_FROM"].items()}
        docs = {name: _class_docstrings(ROOT / "coop" / _NATIVE["BUILT_FROM"][name])
                for name in _NATIVE["COMPILED_MODULES"]}
        self._write_build_info(_build_info_text(digests, docs, None))
        _say("compiled kernel built (mypyc)")


class SourcesOnlySdist(sdist):
    """An sdist of the sources as they are: nothing translated, compiled or deleted.

    The stock command finalizes build_ext to list the extensions' sources, which would run
    mypyc and list its generated C; coop/_core/_resume.c is in MANIFEST.in instead, and mypyc
    generates the rest where the sdist is installed.
    """

    def _add_defaults_ext(self) -> None:
        pass


# A placeholder so that setuptools knows there are extensions to build (a platform wheel, the
# build_ext step); OptionalBuildExt replaces it with mypyc's.
setup(ext_modules=[Extension("coop._native__mypyc", sources=[])],
      cmdclass={"build_ext": OptionalBuildExt, "sdist": SourcesOnlySdist})
