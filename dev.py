#!/usr/bin/env python3
"""The project's two commands, working on a fresh clone where only python3 exists.

    python3 dev.py demo    set up .venv and run every example, printing what it prints
    python3 dev.py test    set up .venv and run the whole suite: ruff, mypy --strict,
                           pytest (with hypothesis, doctests, examples), the docs build

Set-up is idempotent: .venv is made once and reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
# What setup.py compiles, from its one list in coop/_native.py (which picks compiled or pure).
_NATIVE = runpy.run_path(str(ROOT / "coop" / "_native.py"))
COMPILED_SOURCES = [ROOT / "coop" / source for source in _NATIVE["BUILT_FROM"].values()]
# The kernel's own tests and doctests, run a second time against the pure-Python kernel.
PURE_PASS = ["tests/test_kernel.py", "tests/test_kernel_properties.py", "tests/test_structured.py",
             "tests/test_sync.py", "tests/test_native.py",
             *(f"coop/{name}.py" for name in _NATIVE["COMPILED_MODULES"])]
EXTRAS = {"demo": "progress", "test": "dev,docs,bench,dask,ray,progress,loky,plot"}


def sh(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def setup(extras: str) -> None:
    if not PY.exists():
        sh(sys.executable, "-m", "venv", VENV)
    # Reinstall (and so recompile the kernel) when the build or the compiled sources change.
    inputs = [ROOT / "pyproject.toml", ROOT / "setup.py", *COMPILED_SOURCES]
    want = hashlib.sha256(b"".join(p.read_bytes() for p in inputs) + extras.encode()).hexdigest()
    stamp = VENV / f".coop-installed-{extras.replace(',', '_')}"
    if stamp.exists() and stamp.read_text() == want:
        return
    sh(PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-U", "pip")
    sh(PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", f".[{extras}]")
    stamp.write_text(want)


def demo() -> None:
    setup(EXTRAS["demo"])
    for example in sorted((ROOT / "examples").glob("*.py")):
        print(f"\n=== examples/{example.name}", flush=True)
        sh(PY, example)


def test() -> None:
    setup(EXTRAS["test"])
    started = time.monotonic()
    lint = [p for p in ("coop", "tests", "examples", "benchmarks", "docs", "dev.py", "setup.py",
                        "conftest.py")
            if (ROOT / p).exists()]
    sh(BIN / "ruff", "check", *lint)
    sh(PY, "-m", "mypy", "--strict", "coop")
    sh(PY, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    pure = {**os.environ, "COOP_PURE": "1"}
    print("+ COOP_PURE=1: the kernel's tests again, on the pure-Python kernel", flush=True)
    sh(PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PURE_PASS, env=pure)
    # Pure Python for the docs too: autodoc reads docstrings, which mypyc does not keep.
    sh(PY, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html",
       env=pure)
    print(f"\nwhole suite passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    commands = {"demo": demo, "test": test}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(commands)}}}")
    try:
        commands[sys.argv[1]]()
    except subprocess.CalledProcessError as err:
        sys.exit(err.returncode or 1)
