"""The documentation is tested like code.

* ``>>>`` examples in docs/**/*.rst and in docstrings run as doctests (pytest's
  ``--doctest-glob=*.rst --doctest-modules``, configured in pyproject.toml).
* Every ``.. code-block:: python`` in docs/**/*.rst (and every ```` ```python ```` block of
  README.md, marked with ``<!-- test: ... -->`` comments) is a complete program: this file writes it
  to a file and runs it with the venv's Python, as a reader who pastes it would. If the next
  block is a ``.. code-block:: text`` with ``:caption: Output``, the program must print exactly
  that (for a block marked ``raises``, followed by the traceback with its frames shown as
  ``  ...``). An rst comment right before a block changes how it is tested::

      .. test: virtual-clock        coop.run uses a VirtualClock unless given a clock
      .. test: raises coop.Deadlock the program must fail with this exception
      .. test: cluster              it starts a local Dask or Ray cluster (pytest -m cluster)
      .. test: compile-only: REASON compiled, not run (say why: needs a remote cluster, ...)

  Nothing is skipped silently: a compile-only block still compiles, and an unknown marker fails.
* Every public name (``coop.__all__``) and every public method of a public class has a
  docstring, every public name has a short example, and every public name is documented on
  some docs/reference/*.rst page.
* The Sphinx build has no warnings.
"""

from __future__ import annotations

import inspect
import itertools
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import coop

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PYTHON_LANGS = {"python", "python3", "py"}
MARKERS = ("virtual-clock", "raises", "compile-only", "cluster")

# Run a block's file with coop.run defaulting to a fresh VirtualClock (the `virtual-clock` marker).
VIRTUAL_CLOCK_BOOT = """\
import functools, runpy, sys
import coop
_run = coop.run
@functools.wraps(_run)
def run(main, **kw):
    if kw.get("clock") is None:
        kw["clock"] = coop.VirtualClock()
    return _run(main, **kw)
coop.run = run
path = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(path, run_name="__main__")
"""


@dataclass
class Block:
    path: Path
    line: int
    language: str
    code: str
    options: dict[str, str]
    markers: list[str] = field(default_factory=list)
    output: str | None = None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO).as_posix()}:{self.line}"


def doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.relative_to(DOCS).parts)


def own_pages() -> list[Path]:
    """The pages written as prose (the reference pages are autodoc, owned by module authors)."""
    return [p for p in doc_pages() if p.relative_to(DOCS).parts[0] != "reference"]


_DIRECTIVE = re.compile(r"^(\s*)\.\. (?:code-block|code|sourcecode)::\s*(\S*)\s*$")
_OPTION = re.compile(r"^\s*:([\w-]+):\s*(.*)$")
_MARKER = re.compile(r"^\s*\.\. test:\s*(.+?)\s*$")


def parse_blocks(path: Path) -> list[Block]:
    """Every code block of a page, with its options, its test markers and its output block."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, language, start = len(match.group(1)), match.group(2) or "python", i
        markers = []
        j = i - 1
        while j >= 0 and (not lines[j].strip() or _MARKER.match(lines[j])):
            if lines[j].strip():
                markers.insert(0, _MARKER.match(lines[j]).group(1))  # type: ignore[union-attr]
            j -= 1
        i += 1
        options = {}
        while i < len(lines) and (opt := _OPTION.match(lines[i])) and \
                len(lines[i]) - len(lines[i].lstrip()) > indent:
            options[opt.group(1)] = opt.group(2)
            i += 1
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        blocks.append(Block(path, start + 1, language, textwrap.dedent("\n".join(body)).strip()
                            + "\n", options, markers))
    # An output block is the text block that directly follows a python block.
    for before, after in itertools.pairwise(blocks):
        if (before.language in PYTHON_LANGS and after.language == "text"
                and after.options.get("caption", "").lower() == "output"):
            between = lines[before.line:after.line - 1]
            if not any(_DIRECTIVE.match(line) for line in between):
                before.output = after.code
    return blocks


_FENCE = re.compile(r"^```(\w*)\s*$")
_MD_MARKER = re.compile(r"^<!--\s*test:\s*(.+?)\s*-->$")


def parse_markdown(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file; ``<!-- test: ... -->`` lines mark them."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        markers = []
        j = i - 1
        while j >= 0 and (not lines[j].strip() or _MD_MARKER.match(lines[j])):
            if lines[j].strip():
                markers.insert(0, _MD_MARKER.match(lines[j]).group(1))  # type: ignore[union-attr]
            j -= 1
        end = lines.index("```", i + 1)
        blocks.append(Block(path, i + 1, match.group(1) or "text",
                            "\n".join(lines[i + 1:end]) + "\n", {}, markers))
        i = end + 1
    return blocks


def python_blocks() -> list[Block]:
    blocks = [b for page in doc_pages() for b in parse_blocks(page)]
    blocks += parse_markdown(REPO / "README.md")
    return [b for b in blocks if b.language in PYTHON_LANGS]


BLOCKS = python_blocks()


def test_the_docs_have_code_blocks_to_test():
    assert len(BLOCKS) >= 10, [b.id for b in BLOCKS]


def _param(block: Block) -> object:
    marks = [pytest.mark.cluster] if any(m.split()[0] == "cluster" for m in block.markers) \
        else []
    return pytest.param(block, id=block.id, marks=marks)


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_code_block_runs(block: Block, tmp_path: Path):
    compile(block.code, block.id, "exec")  # every block compiles, whatever its markers say
    kinds = [m.split(":")[0].split()[0] for m in block.markers]
    unknown = [m for m in kinds if m not in MARKERS]
    assert not unknown, f"{block.id}: unknown test marker(s) {unknown}; known: {MARKERS}"
    if "compile-only" in kinds:
        reason = next(m for m in block.markers if m.startswith("compile-only"))
        assert reason.partition(":")[2].strip(), f"{block.id}: compile-only needs a reason"
        return
    if "cluster" in kinds:
        # A cluster block needs its library, an extra that a plain install may not have.
        for library in ("distributed", "ray"):
            if f"import {library}" in block.code or f"from {library}" in block.code:
                pytest.importorskip(library)
    script = tmp_path / "block.py"
    script.write_text(block.code)
    if "virtual-clock" in kinds:
        cmd = [sys.executable, "-c", VIRTUAL_CLOCK_BOOT, str(script)]
    else:
        cmd = [sys.executable, str(script)]
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path,
                          env=env)
    raises = [m.split(None, 1)[1] for m in block.markers if m.startswith("raises")]
    if raises:
        assert done.returncode != 0, f"{block.id} should have raised {raises[0]}"
        name = raises[0].split(".")[-1]
        assert re.search(rf"^(?:[\w.]+\.)?{name}\b", done.stderr, re.M), \
            f"{block.id} should fail with {raises[0]}, stderr:\n{done.stderr}"
    else:
        assert done.returncode == 0, f"{block.id} failed:\n{done.stderr}"
    if block.output is not None:
        shown = done.stdout + (short_traceback(done.stderr) if raises else "")
        assert shown.rstrip("\n") + "\n" == block.output, (
            f"{block.id} printed something else than its Output block:\n{shown}")


def short_traceback(stderr: str) -> str:
    """The traceback as a page shows it: the frames between its first line and the exception
    collapsed to ``  ...``, as doctest writes them."""
    lines = stderr.splitlines()
    try:
        start = lines.index("Traceback (most recent call last):")
    except ValueError:
        return stderr
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    return "\n".join([*lines[:start + 1], "  ...", *lines[end:]]) + "\n"


def test_prose_pages_have_no_untested_literal_blocks():
    """A bare ``::`` block is highlighted as Python but never run: use a code-block instead."""
    offenders = []
    for page in own_pages():
        for number, line in enumerate(page.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.endswith("::") and not stripped.startswith(".. "):
                offenders.append(f"{page.relative_to(DOCS)}:{number}: {stripped}")
    assert not offenders, "use `.. code-block:: python` (tested) or `text`:\n" + \
        "\n".join(offenders)


# ------------------------------------------------------------------- public names


def public_names() -> list[str]:
    return sorted(set(coop.__all__))


# Docstrings are checked on the source: the compiled kernel (mypyc) carries none for its
# functions and methods, so when it runs, the checks read a pure-Python copy loaded beside it.
SOURCE = coop if coop.kernel_build() != "compiled" else coop._native.load_pure_copy()


def test_every_public_name_exists():
    missing = [name for name in public_names() if not hasattr(coop, name)]
    assert not missing, f"in coop.__all__ but not defined: {missing}"


def test_every_public_name_has_a_docstring():
    lacking = [name for name in public_names()
               if not (inspect.getdoc(getattr(SOURCE, name, None)) or "").strip()]
    assert not lacking, f"public names without a docstring: {', '.join(lacking)}"


def _own_doc(obj: object) -> str:
    doc = getattr(obj, "__doc__", None)
    return doc if isinstance(doc, str) else ""


def test_every_public_name_has_a_short_example():
    """A docstring shows use: a ``>>>`` doctest, or a ``::`` literal block for what cannot run."""
    lacking = [name for name in public_names()
               if not re.search(r">>>|::\s*\n", _own_doc(getattr(SOURCE, name, None)))]
    assert not lacking, f"public names whose docstring has no example: {', '.join(lacking)}"


def _public_members(cls: type) -> list[str]:
    if issubclass(cls, BaseException):
        return []
    return [name for name, value in vars(cls).items()
            if not name.startswith("_") and (inspect.isfunction(value) or isinstance(
                value, (property, staticmethod, classmethod)))]


def test_every_public_method_has_a_docstring():
    lacking = []
    for name in public_names():
        cls = getattr(SOURCE, name, None)
        if not inspect.isclass(cls) or not cls.__module__.startswith(SOURCE.__name__):
            continue
        for member in _public_members(cls):
            if not inspect.getdoc(getattr(cls, member, None)):
                lacking.append(f"{name}.{member}")
    assert not lacking, f"public methods without a docstring: {', '.join(lacking)}"


_DOCUMENTED = re.compile(
    r"^\s*\.\. (?:auto(?:function|class|exception|data|attribute|method|decorator)|"
    r"py:(?:function|class|exception|data))::\s*(?:coop\.)?(\w+)", re.M)


def test_every_public_name_is_on_a_reference_page():
    documented: dict[str, str] = {}
    for page in sorted((DOCS / "reference").glob("*.rst")):
        for name in _DOCUMENTED.findall(page.read_text()):
            documented.setdefault(name, page.name)
    missing = [name for name in public_names() if name not in documented]
    assert not missing, (
        "public names on no docs/reference/*.rst page (add `.. autofunction:: coop.NAME` or "
        f"`.. autoclass:: coop.NAME` to the module's page): {', '.join(missing)}")


# ------------------------------------------------------------------- the build


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html",
         str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env={**os.environ, "COOP_PURE": "1"},  # autodoc reads docstrings; mypyc keeps none
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def _conf_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_coop_docs_conf", DOCS / "conf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_build_check_finds_error_boxes_and_system_messages():
    error_boxes = _conf_module().error_boxes
    # What docutils writes for `.. contents::` (furo paints it as a red error box), for a reST
    # error kept in the page, and for a reference it could not resolve.
    assert error_boxes('<nav class="contents local" id="on-this-page">') == [
        "furo's box for a table of contents"]
    assert error_boxes('<aside class="system-message"><p>ERROR/3</p></aside>') == [
        "system-message"]
    assert error_boxes('<a class="problematic" href="#id1">`x`_</a>') == ["problematic"]
    # furo's own escape hatch, and ordinary pages, pass.
    assert error_boxes('<nav class="contents this-will-duplicate-information-and-it-is-still-'
                       'useful-here">') == []
    assert error_boxes('<div class="toc-tree"><ul><li>x</li></ul></div>') == []


def test_benchmark_ratios_read_as_numbers():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_coop_report",
                                                  REPO / "benchmarks" / "report.py")
    assert spec is not None and spec.loader is not None
    report = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = report
    spec.loader.exec_module(report)
    cells = [report.ratio_text(v, c) for v, c in
             [(1880.4, 1.0), (5.55, 1.0), (0.0, 0.0), (3.0, 0.0), (None, 2.0), (2.0, None)]]
    assert cells == ["1,880x", "5.55x", "same", "coop is 0", "n/a", "n/a"]
    # A bare "-" would be an empty bullet in a reST table cell; "e+" is unreadable.
    assert not [c for c in cells if c.startswith("-") or "e+" in c]
    figures = [f for path in sorted((REPO / "benchmarks" / "results").glob("*.json"))
               for f in json.loads(path.read_text())["figures"]]
    undefined = [f["name"] for f in figures if not all(report.about(f))]
    assert not undefined, f"figures with no definition or caveat in report.ABOUT: {undefined}"
