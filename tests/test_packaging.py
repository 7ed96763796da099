"""What a newcomer installs: the distribution's metadata, the sdist's contents, the set-up
command's truthfulness about the kernel, and types visible from outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# Files a build writes into the tree, which an sdist must not carry.
GENERATED = ("PKG-INFO", "setup.cfg")


def test_the_distribution_name_is_not_coop_and_is_what_the_docs_print():
    # "coop" on the package index is another project: a pip command that names it installs that.
    name = PROJECT["name"]
    assert name == "coop-scheduler"
    printed = [REPO / "README.md", *(REPO / "docs").rglob("*.rst"), *(REPO / "coop").glob("*.py")]
    wrong = [f"{p.relative_to(REPO)}: {line.strip()}" for p in printed
             if "_build" not in p.parts
             for line in p.read_text().splitlines()
             if "pip install coop" in line and f"pip install {name}" not in line]
    assert not wrong, "pip commands that install the other project:\n" + "\n".join(wrong)


def test_the_metadata_says_what_a_user_needs_to_know():
    assert PROJECT["requires-python"] == ">=3.11"
    assert PROJECT["license"] == "MIT"
    assert "MIT License" in (REPO / "LICENSE").read_text()
    classifiers = PROJECT["classifiers"]
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in classifiers)
    assert PROJECT["dependencies"] == []  # the core has no runtime dependencies
    assert f"## {PROJECT['version']}" in (REPO / "CHANGELOG.md").read_text()


def _tree_files() -> set[str] | None:
    """The files a commit of this tree would hold (tracked, or new and not ignored); None
    outside a git checkout (an unpacked sdist)."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        return None
    done = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    return {f for f in done.stdout.split("\0") if f and (REPO / f).is_file()}


@pytest.mark.slow
def test_the_sdist_holds_the_tree_and_building_it_leaves_the_install_alone(tmp_path: Path):
    build_info = REPO / "coop" / "_build_info.py"
    before = build_info.read_bytes() if build_info.exists() else None
    kernel_before = _kernel_build_in_a_fresh_process()
    done = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path),
         str(REPO)],
        # Not from REPO: setuptools' build/ folder there would shadow the build module.
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Building must not touch the working tree's install (it used to delete _build_info.py).
    assert (build_info.read_bytes() if build_info.exists() else None) == before
    assert _kernel_build_in_a_fresh_process() == kernel_before

    (sdist,) = tmp_path.glob("coop_scheduler-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    top = f"{sdist.name.removesuffix('.tar.gz')}/"
    assert all(n.startswith(top) for n in names)
    files = {n.removeprefix(top) for n in names}
    files = {f for f in files if f not in GENERATED and ".egg-info/" not in f}

    needed = {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "setup.py", "dev.py",
              "conftest.py", "MANIFEST.in", "coop/py.typed", "coop/_core/_resume.c", "docs/conf.py",
              "docs/index.rst", "benchmarks/report.py", "examples/gil.py",
              "tests/test_docs.py", "tests/test_packaging.py"}
    assert needed <= files, sorted(needed - files)
    leftovers = [f for f in files if f.endswith((".so", ".pyd", ".pyc")) or "__pycache__" in f
                 or f == "coop/_build_info.py" or f.startswith(("docs/_build/", ".venv/"))]
    assert not leftovers, leftovers
    tree = _tree_files()
    if tree is not None:
        # Everything a commit holds, and nothing else: then the sdist's tests find what they
        # read (docs pages, examples, benchmark results), and no build output rides along.
        assert files == tree, {"missing": sorted(tree - files), "extra": sorted(files - tree)}


def _kernel_build_in_a_fresh_process() -> str:
    env = {k: v for k, v in os.environ.items() if k != "COOP_PURE"}
    done = subprocess.run([sys.executable, "-c", "import coop; print(coop.kernel_build())"],
                          cwd=REPO, capture_output=True, text=True, timeout=60, env=env)
    return done.stdout.strip()


PROGRAM = """\
from collections.abc import Generator
from typing import Any

import coop


def child(n: int) -> Generator[Any, Any, int]:
    yield coop.sleep(1)
    return n * 2


def main() -> Generator[Any, Any, str]:
    task = yield from coop.spawn(child(21))
    result = yield from coop.join(task)
    return str(result)


answer: str = coop.run(main(), clock=coop.VirtualClock())
"""


@pytest.mark.slow
def test_a_program_outside_the_repository_type_checks_against_coop(tmp_path: Path):
    # Run where a user's program would be: not in the repository, no MYPYPATH. mypy then finds
    # coop only through the installation (an editable install's import hook is invisible to it).
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mypy is not installed beside this Python")
    good = tmp_path / "good.py"
    good.write_text(PROGRAM)
    bad = tmp_path / "bad.py"
    bad.write_text(PROGRAM.replace("answer: str", "answer: bytes"))
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}

    def mypy(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                               path.name], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, env=env)

    checked = mypy(good)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # And the types are coop's own, not Any: a wrong annotation of run()'s result is caught.
    wrong = mypy(bad)
    assert wrong.returncode == 1 and 'has type "str"' in wrong.stdout, wrong.stdout


def _load_dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernels: list[str]):
    """dev.py with its venv in tmp_path, already set up (stamps current), commands recorded."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dev_under_test", REPO / "dev.py")
    assert spec is not None and spec.loader is not None
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    monkeypatch.setattr(dev, "VENV", venv)
    monkeypatch.setattr(dev, "PY", venv / "bin" / "python")
    commands: list[list[str]] = []
    monkeypatch.setattr(dev, "sh", lambda *cmd, **kw: commands.append([str(c) for c in cmd]))
    monkeypatch.setattr(dev, "_kernel_build", lambda: kernels.pop(0))
    # Write the stamps a finished set-up leaves, by running it once with everything faked.
    kernels.insert(0, "compiled")
    dev.setup("demo")
    commands.clear()
    return dev, commands


def test_dev_reinstalls_when_the_installed_coop_runs_pure_python(tmp_path, monkeypatch, capsys):
    # As after `python -m build` deleted the build record: set up, but not compiled.
    dev, commands = _load_dev(tmp_path, monkeypatch, [
        "pure Python: coop/_build_info.py is missing: ...", "compiled"])
    assert dev.setup("demo") == "compiled"
    assert any("-e" in cmd and "editable_mode=compat" in cmd for cmd in commands), commands
    assert "installing it again" in capsys.readouterr().out


def test_dev_says_why_the_kernel_stays_pure(tmp_path, monkeypatch, capsys):
    why = "pure Python: the compiled kernel was not built: mypyc was not available"
    dev, commands = _load_dev(tmp_path, monkeypatch, [why, why])
    assert dev.setup("demo") == why
    assert len([cmd for cmd in commands if "-e" in cmd]) == 1  # once, not in a loop
    assert f"note: coop runs the {why}" in capsys.readouterr().out


def test_dev_leaves_a_compiled_install_alone(tmp_path, monkeypatch):
    dev, commands = _load_dev(tmp_path, monkeypatch, ["compiled"])
    assert dev.setup("demo") == "compiled"
    assert commands == []
