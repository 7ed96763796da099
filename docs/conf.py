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
# Generated, never committed: docs/_build is ignored by git and by Sphinx's source scan.
PLOTS_DIR = DOCS / "_build" / "generated" / "bench"


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
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _table(figure: dict[str, Any]) -> list[str]:
    results: dict[str, Any] = figure.get("results", {})
    better = "lower" if figure.get("lower_is_better", True) else "higher"
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - peer",
        f"     - {figure.get('unit', '')} ({better} is better)",
    ]
    for peer, value in results.items():
        lines += [f"   * - {peer}", f"     - {_number(value)}"]
    return [*lines, ""]


def _plots() -> tuple[dict[str, Path], str | None]:
    """Run report.py into PLOTS_DIR; returns the PNGs by stem, or a reason there are none."""
    if not REPORT.exists():
        return {}, "benchmarks/report.py does not exist yet, so no plots were drawn"
    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    for old in PLOTS_DIR.glob("*.png"):
        old.unlink()
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(REPORT), "--plots", str(PLOTS_DIR)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks/report.py --plots failed:\n{done.stderr}")
    return {p.stem: p for p in sorted(PLOTS_DIR.glob("*.png"))}, None


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


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
                    if figure.get("goal"):
                        lines += [f"Goal: {figure['goal']}", ""]
                    lines += _table(figure)
                    for stem in (_slug(f"{suite['suite']}_{name}"), _slug(name)):
                        if stem in plots and stem not in used:
                            used.add(stem)
                            lines += [f".. image:: {_rel(plots[stem])}",
                                      f"   :alt: {name}", ""]
                            break
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


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("benchmark-results", BenchmarkResults)
    return {"parallel_read_safe": True}
