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


def _table(figure: dict[str, Any]) -> list[str]:
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
        ratio = "-" if value is None or not coop else f"{float(value) / float(coop):.3g}x"
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


def _goal_line(figure: dict[str, Any], report: Any) -> list[str]:
    goal = figure.get("goal")
    if not goal:
        return []
    check = getattr(report, "check_goal", None)
    if check is None:
        return [f"Goal: {goal}", ""]
    checks = check(figure)
    states = {c.met for c in checks}
    verdict = ("met" if states == {True} else "**not met**" if False in states
               else "not checked")
    details = "; ".join(f"{c.text}: {c.detail}" for c in checks)
    return [f"Goal: {goal} ({verdict}: {details})", ""]


def _plots() -> tuple[dict[str, Path], str | None]:
    """Run report.py into PLOTS_DIR; returns the PNGs by stem, or a reason there are none."""
    if not REPORT.exists():
        return {}, "benchmarks/report.py does not exist yet, so no plots were drawn"
    _remove_stale_plots()
    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    for old in PLOTS_DIR.glob("*.png"):
        old.unlink()
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(REPORT), "--plots", str(PLOTS_DIR)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks/report.py --plots failed:\n{done.stderr}")
    return {p.stem: p for p in sorted(PLOTS_DIR.glob("*.png"))}, None


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
            plots, why_not = _plots()
            report = _report_module() if REPORT.exists() else None
            if why_not:
                lines += [".. note::", "", f"   {why_not}; the tables below show every number.",
                          ""]
            used: set[str] = set()
            for suite in suites:
                title = f"Suite ``{suite['suite']}``"
                lines += [title, "-" * len(title), ""]
                about = ", ".join(f"{key} {suite[key]}" for key in ("python", "date", "machine")
                                  if suite.get(key))
                lines += [f"From ``benchmarks/results/{suite['_file']}`` ({about}).", ""]
                for figure in suite.get("figures", []):
                    name = str(figure.get("name", "unnamed"))
                    lines += [name, "~" * len(name), ""]
                    stem = f"{_slug(str(suite['suite']))}-{_slug(name)}"
                    if stem in plots:
                        used.add(stem)
                        lines += [f".. image:: {_rel(plots[stem])}", f"   :alt: {name}", ""]
                    lines += _table(figure)
                    lines += _goal_line(figure, report)
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


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("benchmark-results", BenchmarkResults)
    app.connect("env-get-outdated", _always_reread_benchmarks)
    return {"parallel_read_safe": True}
