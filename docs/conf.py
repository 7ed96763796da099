"""Sphinx configuration for coop's documentation.

Theme: furo (maintained, accessible, light and dark, no JavaScript framework). The build must
pass with ``-W`` (warnings are errors); the test command runs it that way.

The benchmarks page is generated at build time: the ``benchmark-results`` directive below reads
``benchmarks/results/*.json`` (tables) and calls ``benchmarks/report.py --plots DIR`` (one PNG
per figure). Nothing there is pasted by hand.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))

project = "coop"
author = "the coop developers"
copyright = "2026, the coop developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
html_theme = "furo"
html_title = "coop"
html_static_path = ["_static"]
html_css_files = ["coop.css"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
exclude_patterns = ["_build"]
nitpicky = False

# ---------------------------------------------------------------- benchmark results

RESULTS_DIR = REPO / "benchmarks" / "results"
REPORT = REPO / "benchmarks" / "report.py"
# Generated, never committed: docs/_build is ignored by git and by Sphinx's source scan. One
# directory per build process, so that two builds at once (the test suite's and the test
# command's) never delete or half-write each other's images.
GENERATED = DOCS / "_build" / "generated"
PLOTS_DIR = GENERATED / f"bench-{os.getpid()}"


def _results() -> list[dict[str, Any]]:
    suites = []
    for path in sorted(RESULTS_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        data.setdefault("suite", path.stem)
        data["_file"] = path.name
        suites.append(data)
    return suites


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    v = float(value)
    if v == 0 or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _subject(results: dict[str, Any]) -> str | None:
    """The coop entry of a figure (``coop``, or the first key that starts with it)."""
    if "coop" in results:
        return "coop"
    return next((k for k in results if k.startswith("coop")), None)


def _table(figure: dict[str, Any], report: Any) -> list[str]:
    results: dict[str, Any] = figure.get("results", {})
    better = "lower" if figure.get("lower_is_better", True) else "higher"
    subject = _subject(results)
    coop = results.get(subject) if subject else None
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - peer",
        f"     - {figure.get('unit', '')} ({better} is better)",
        "     - peer / coop",
    ]
    order = ([subject] if subject else []) + [k for k in results if k != subject]
    for peer in order:
        value = results[peer]
        # report.ratio_text never writes a bare "-", which reST would take for a bullet.
        ratio = report.ratio_text(value, coop)
        shown = f"**{peer}**" if peer == subject else peer
        lines += [f"   * - {shown}", f"     - {_number(value)}", f"     - {ratio}"]
    return [*lines, ""]


def _report_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_coop_bench_report", REPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _goal_lines(figure: dict[str, Any], report: Any) -> list[str]:
    """The goal as a list: one clause a line, each with its verdict and the figure it got."""
    if not figure.get("goal"):
        return []
    checks = report.check_goal(figure)
    states = {c.met for c in checks}
    verdict = ("met" if states == {True} else "not met" if False in states else "not checked")
    lines = [f"Goal ({verdict}):", ""]
    for check in checks:
        state = {True: "met", False: "**not met**", None: "not checked"}[check.met]
        lines.append(f"* ``{check.text}``: {state}, {check.detail}")
    return [*lines, ""]


def _about_lines(figure: dict[str, Any], report: Any) -> list[str]:
    definition, caveat = report.about(figure)
    lines = [f"*What it is:* {definition}", ""] if definition else []
    return lines + ([f"*Caveat:* {caveat}", ""] if caveat else [])


def _committed(path: Path) -> str:
    """When the results file was last committed, and whether it has changed since."""
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=30)
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    last = git("log", "-1", "--format=%h, %ad", "--date=short", "--", str(path))
    if not last:
        return "not from a git checkout, so its commit is not known"
    changed = git("status", "--porcelain", "--", str(path))
    return f"last committed in {last}" + (
        "; **changed since, not committed**" if changed else "")


def _plots() -> dict[str, Path]:
    """Run report.py into PLOTS_DIR; returns the PNGs by stem."""
    _remove_stale_plots()
    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    for old in PLOTS_DIR.glob("*.png"):
        old.unlink()
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(REPORT), "--plots", str(PLOTS_DIR)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks/report.py --plots failed:\n{done.stderr}")
    return {p.stem: p for p in sorted(PLOTS_DIR.glob("*.png"))}


def _remove_stale_plots() -> None:
    """Delete the plot directories of build processes that have ended."""
    for folder in GENERATED.glob("bench-*"):
        try:
            pid = int(folder.name.partition("-")[2])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def _slug(text: str) -> str:
    """report.py names a figure's plot ``<slug(suite)>-<slug(figure name)>.png``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


class BenchmarkResults(Directive):
    """Tables and plots for every figure in benchmarks/results/*.json."""

    has_content = False

    def run(self) -> list[Any]:
        env = self.state.document.settings.env
        # Re-read this page whenever a results file or the report script changes.
        for path in [REPORT, *RESULTS_DIR.glob("*.json")]:
            if path.exists():
                env.note_dependency(str(path))
        suites = _results()
        lines: list[str] = []
        if not suites:
            lines += [".. note::", "",
                      "   No benchmark results yet: ``benchmarks/results/`` holds no ``.json`` "
                      "file. Run the benchmarks (see ``benchmarks/README.md``), then rebuild.", ""]
        else:
            plots = _plots()
            report = _report_module()
            used: set[str] = set()
            for suite in suites:
                title = f"Suite ``{suite['suite']}``"
                lines += [title, "-" * len(title), ""]
                about = ", ".join(f"{key} {suite[key]}" for key in ("python", "date", "machine")
                                  if suite.get(key))
                lines += [f"From ``benchmarks/results/{suite['_file']}`` ({about}; "
                          f"{_committed(RESULTS_DIR / suite['_file'])}).", ""]
                for figure in suite.get("figures", []):
                    name = str(figure.get("name", "unnamed"))
                    lines += [name, "~" * len(name), ""]
                    stem = f"{_slug(str(suite['suite']))}-{_slug(name)}"
                    if stem in plots:
                        used.add(stem)
                        lines += [f".. image:: {_rel(plots[stem])}", f"   :alt: {name}", ""]
                    lines += _about_lines(figure, report)
                    lines += _table(figure, report)
                    lines += _goal_lines(figure, report)
            rest = [stem for stem in plots if stem not in used]
            if rest:
                lines += ["Other plots", "-----------", ""]
                for stem in rest:
                    lines += [f".. image:: {_rel(plots[stem])}", f"   :alt: {stem}", ""]
        node_lines = StringList(lines, source="<benchmark-results>")
        self.state_machine.insert_input(node_lines, "<benchmark-results>")
        return []


def _rel(path: Path) -> str:
    return "/" + path.relative_to(DOCS).as_posix()


def _always_reread_benchmarks(app: Any, env: Any, added: Any, changed: Any,
                              removed: Any) -> list[str]:
    # A results file added since the last build is no dependency yet: re-read every time.
    return ["benchmarks"] if "benchmarks" in env.found_docs else []


# ---------------------------------------------------------------- no error boxes

# What a reader would see as an error on a built page: docutils' system messages (a reST error
# kept in the output), text it could not resolve ("problematic"), and the red box furo draws
# over a ``.. contents::`` directive. Sphinx's -W does not catch the last: it is CSS.
_ERROR_MARKS = {
    "system-message": re.compile(r'class="[^"]*\bsystem-message\b'),
    "problematic": re.compile(r'class="[^"]*\bproblematic\b'),
    "furo's box for a table of contents": re.compile(
        r'class="(?![^"]*this-will-duplicate-information)[^"]*\bcontents\b[^"]*"'),
}


def error_boxes(html: str) -> list[str]:
    """What in this HTML page shows as an error box or a system message."""
    return [what for what, mark in _ERROR_MARKS.items() if mark.search(html)]


def _check_no_error_boxes(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    found = []
    for page in sorted(Path(app.outdir).rglob("*.html")):
        rel = page.relative_to(app.outdir).as_posix()
        if rel.startswith(("_modules/", "_static/")):
            continue  # viewcode's source listings and the theme's assets are not ours
        found += [f"{rel}: {what}" for what in error_boxes(page.read_text(errors="replace"))]
    if found:
        raise RuntimeError("the built docs show errors to the reader:\n  " + "\n  ".join(found))


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("benchmark-results", BenchmarkResults)
    app.connect("env-get-outdated", _always_reread_benchmarks)
    app.connect("build-finished", _check_no_error_boxes)
    return {"parallel_read_safe": True}
