#!/usr/bin/env python3
"""The project's two commands, working on a fresh clone where only python3 exists.

    python3 dev.py demo    set up .venv and run every example, printing what it prints
    python3 dev.py test    set up .venv and run the whole suite: ruff, mypy --strict,
                           pytest (with hypothesis, doctests, examples), the docs build

Set-up is idempotent: .venv is made once, the dependencies are installed again only when
pyproject.toml changes, and coop itself (which compiles its kernel) only when the build or the
compiled sources change, or when the installed coop does not run the compiled kernel.
"""

from __future__ import annotations

import hashlib
import os
import runpy
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
PIP = [PY, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
# What setup.py compiles, from its one list in coop/_native.py (which picks compiled or pure).
_NATIVE = runpy.run_path(str(ROOT / "coop" / "_native.py"))
COMPILED_SOURCES = [ROOT / "coop" / source for source in _NATIVE["BUILT_FROM"].values()]
# The kernel's own tests and doctests, run a second time against the pure-Python kernel.
PURE_PASS = ["tests/test_kernel.py", "tests/test_kernel_properties.py", "tests/test_structured.py",
             "tests/test_sync.py", "tests/test_queue_shutdown.py", "tests/test_native.py",
             "tests/test_kernel_faults.py", "tests/test_reliability_sync.py",
             "tests/test_lowlevel.py", "tests/test_rwlock.py", "tests/test_run_until.py",
             "tests/test_layering.py", "tests/test_debug_mode.py", "tests/test_task_interrupt.py",
             "tests/test_taskgroup.py", "tests/test_explore.py", "tests/test_actors.py",
             "tests/test_dump.py", "tests/test_resources.py",
             *(f"coop/{_NATIVE['BUILT_FROM'][name]}" for name in _NATIVE["COMPILED_MODULES"])]
EXTRAS = {"demo": ["progress"],
          "test": ["dev", "docs", "bench", "dask", "ray", "progress", "loky", "plot"]}


def stage(text: str) -> None:
    print(f"\n== {text}", flush=True)


def sh(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def _stamp(name: str, *parts: bytes) -> tuple[Path, str]:
    return VENV / f".coop-{name}", hashlib.sha256(b"\0".join(parts)).hexdigest()


def _kernel_build() -> str:
    env = {k: v for k, v in os.environ.items() if k != "COOP_PURE"}
    done = subprocess.run([str(PY), "-c", "import coop; print(coop.kernel_build())"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    return done.stdout.strip() if done.returncode == 0 else f"coop did not import:\n{done.stderr}"


def setup(command: str) -> str:
    """Make .venv ready for ``command``; returns which kernel the installed coop runs."""
    extras = EXTRAS[command]
    first_time = not PY.exists()
    if first_time:
        stage("creating .venv")
        sh(sys.executable, "-m", "venv", VENV)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # The build's own requirements go into .venv too, so that installing coop needs no
    # download of its own (--no-build-isolation) and the sdist test can build offline.
    optional = project["project"]["optional-dependencies"]
    wanted = [*project["build-system"]["requires"],
              *(req for extra in extras for req in optional[extra])]
    deps_stamp, deps_want = _stamp(f"deps-{command}", *(r.encode() for r in wanted))
    if not deps_stamp.exists() or deps_stamp.read_text() != deps_want:
        stage("installing dependencies" + (" (first time: a few minutes)" if first_time else ""))
        sh(*PIP, "-U", "pip")
        sh(*PIP, *wanted)
        deps_stamp.write_text(deps_want)
    inputs = [ROOT / "pyproject.toml", ROOT / "setup.py", ROOT / "coop" / "_native.py",
              *COMPILED_SOURCES]
    build_stamp, build_want = _stamp("build", *(p.read_bytes() for p in inputs))
    fresh = build_stamp.exists() and build_stamp.read_text() == build_want
    kernel = _kernel_build() if fresh else ""
    if fresh and kernel != "compiled":
        print(f"\nthe installed coop runs {kernel}: installing it again", flush=True)
    if not fresh or kernel != "compiled":
        stage("compiling the kernel with mypyc (installing coop in editable mode)")
        # compat: a path entry in site-packages rather than an import hook, so that mypy run
        # on a program outside this tree finds coop and its types.
        sh(*PIP, "--no-deps", "--no-build-isolation", "--config-settings",
           "editable_mode=compat", "-e", ".")
        build_stamp.write_text(build_want)
        kernel = _kernel_build()
    if kernel != "compiled":
        print(f"\nnote: coop runs the {kernel}", flush=True)
    return kernel


def demo() -> None:
    setup("demo")
    for example in sorted((ROOT / "examples").glob("*.py")):
        stage(f"examples/{example.name}")
        sh(PY, example)


def _skips(junit: Path) -> Counter[str]:
    """The reasons tests were skipped in a pytest run, with how many each."""
    reasons: Counter[str] = Counter()
    if junit.exists():
        for case in ET.parse(junit).iter("testcase"):
            for skipped in case.iter("skipped"):
                reasons[(skipped.get("message") or "no reason given").strip()] += 1
    return reasons


def test() -> None:
    kernel = setup("test")
    started = time.monotonic()
    lint = [p for p in ("coop", "tests", "examples", "benchmarks", "docs", "dev.py", "setup.py",
                        "conftest.py")
            if (ROOT / p).exists()]
    stage("ruff")
    sh(BIN / "ruff", "check", *lint)
    stage("mypy --strict")
    sh(PY, "-m", "mypy", "--strict", "coop")
    with tempfile.TemporaryDirectory() as tmp:
        main_xml, pure_xml = Path(tmp) / "main.xml", Path(tmp) / "pure.xml"
        # conftest.py prints "pytest: N tests" once they are collected.
        # COOP_EXPECT_KERNEL: test_native checks that the tests run the kernel set up here.
        counted = {**os.environ, "COOP_DEV_COUNT": "1", "COOP_EXPECT_KERNEL": kernel}
        stage(f"pytest, on the {kernel} kernel")
        sh(PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={main_xml}",
           env=counted)
        stage("pure-Python pass: the kernel's tests again with COOP_PURE=1")
        sh(PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={pure_xml}",
           *PURE_PASS, env={**counted, "COOP_PURE": "1"})
        skipped = {"main pass": _skips(main_xml), "pure-Python pass": _skips(pure_xml)}
    stage("docs")
    # Pure Python for the docs: autodoc reads docstrings, which mypyc does not keep.
    sh(PY, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html",
       env={**os.environ, "COOP_PURE": "1"})
    print(f"\nwhole suite passed in {time.monotonic() - started:.0f} s")
    print(f"kernel tested: {kernel} in the main pass, pure Python in the second pass")
    for run, reasons in skipped.items():
        if not reasons:
            print(f"{run}: no test skipped")
        for reason, count in reasons.most_common():
            print(f"{run}: {count} skipped: {reason}")
    print("docs: docs/_build/html/index.html")


if __name__ == "__main__":
    commands = {"demo": demo, "test": test}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(commands)}}}")
    try:
        commands[sys.argv[1]]()
    except subprocess.CalledProcessError as err:
        sys.exit(err.returncode or 1)
