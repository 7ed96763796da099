"""The compiled kernel (mypyc) and its pure-Python fallback: which one runs, and when."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import coop
from coop import _native

PACKAGE = Path(coop.__file__).resolve().parent


def test_the_kernel_set_up_is_the_kernel_tested():
    # dev.py says which kernel its set-up installed; its pure-Python pass sets COOP_PURE=1.
    # Run by hand (an unpacked sdist, say), the tests import the sources, built or not.
    if os.environ.get("COOP_PURE"):
        assert coop.kernel_build() == "pure Python: COOP_PURE is set"
        assert coop._core._run.__file__.endswith("_run.py")
        return
    expected = os.environ.get("COOP_EXPECT_KERNEL")
    if expected is None:
        pytest.skip(f"not run by dev.py, which says what kernel to expect; this one is "
                    f"{coop.kernel_build()}")
    assert coop.kernel_build() == expected
    assert coop._core._run.__file__.endswith(".py") == (expected != "compiled")


def _run_copy(where: Path, code: str,
              env: dict[str, str] | None) -> subprocess.CompletedProcess[str]:
    # -S: no site-packages, so the editable install's import hook cannot hand out the real
    # package's files for the copy's (coop needs nothing beyond the standard library).
    script = f"import sys; sys.path.insert(0, {str(where)!r}); import coop; {code}"
    return subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def _kernel_build_of_copy(tmp_path: Path, edit: bool, env: dict[str, str] | None = None) -> str:
    copy = tmp_path / "coop"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    if edit:
        with open(copy / "_core" / "_run.py", "a") as source:
            source.write("\n# an edit made after the build\n")
    runs = "print(coop.kernel_build()); print(coop.run(coop.sleep(0).__iter__()))"
    done = _run_copy(tmp_path, runs, env)
    assert done.returncode == 0, done.stderr
    build, result = done.stdout.splitlines()
    assert result == "None"  # and the kernel it chose runs a program
    return build


@pytest.fixture
def compiled_build() -> None:
    if os.environ.get("COOP_PURE") or coop.kernel_build() != "compiled":
        pytest.skip("needs the compiled kernel in the package directory")


@pytest.mark.usefixtures("compiled_build")
def test_an_untouched_copy_of_the_package_runs_compiled(tmp_path: Path):
    assert _kernel_build_of_copy(tmp_path, edit=False) == "compiled"


@pytest.mark.usefixtures("compiled_build")
def test_a_kernel_source_edited_after_the_build_runs_as_written(tmp_path: Path):
    # The import system would load the stale binary ahead of the edited _run.py.
    assert _kernel_build_of_copy(tmp_path, edit=True) == (
        "pure Python: coop/_core/_run.py changed after the build (reinstall coop to recompile "
        "it)")


@pytest.mark.usefixtures("compiled_build")
def test_coop_pure_selects_the_pure_kernel(tmp_path: Path):
    assert _kernel_build_of_copy(tmp_path, edit=False, env={"COOP_PURE": "1"}) == (
        "pure Python: COOP_PURE is set")


def test_without_a_build_the_pure_kernel_runs(tmp_path: Path):
    copy = tmp_path / "coop"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns(
        "__pycache__", "*.so", "*.pyd", "_build_info.py"))
    done = _run_copy(tmp_path, "print(coop.kernel_build())", {"COOP_PURE": ""})
    assert done.stdout.strip().startswith(
        "pure Python: coop/_build_info.py is missing: coop was not installed"), done.stderr


def test_a_pure_copy_runs_beside_this_coop_with_classes_of_its_own():
    pure = _native.load_pure_copy()
    assert pure.kernel_build().startswith("pure Python")
    assert pure._core._run.__file__.endswith("_run.py")
    assert pure.Task is not coop.Task or coop.kernel_build() != "compiled"

    def child(n):
        yield pure.sleep(1)
        return n * 2

    def main():
        task = yield pure.spawn(child(21))
        return (yield pure.join(task))

    assert pure.run(main(), clock=pure.VirtualClock()) == 42


@pytest.mark.slow
def test_installing_without_a_working_compiler_gives_a_pure_python_coop(tmp_path: Path):
    # setup.py's promise: a compiler that fails never fails the install.
    if os.environ.get("COOP_PURE"):
        pytest.skip("the same install either way: it runs in the compiled pass only")
    repo = PACKAGE.parent
    source = tmp_path / "src"
    shutil.copytree(repo, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "_build", "__pycache__", "*.so", "_build_info.py",
        ".hypothesis", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--no-cache-dir", "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "CC": "false", "COOP_PURE": ""},
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    ran = subprocess.run(
        [str(python), "-c", "import coop; print(coop.kernel_build()); "
                            "print(coop.run(coop.sleep(0).__iter__()))"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "COOP_PURE"},
    )
    why, result = ran.stdout.splitlines()
    assert why.startswith("pure Python: the compiled kernel was not built: compiling the "
                          "kernel failed at install"), ran.stderr
    assert result == "None"
