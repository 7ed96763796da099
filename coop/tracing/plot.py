"""Draw a trace's timeline as a picture with matplotlib (``pip install coop-scheduler[plot]``).

One lane per track (a task, a worker, the scheduler's idle time), steps and offloaded calls
as bars, waits as the gaps between them, and optionally the flow arrows (spawn, message,
reply, wake). ``python -m coop trace run.json --png run.png`` calls :func:`draw`.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["PlotUnavailable", "draw"]

#: Bar colours by what the bar is.
_COLOURS = {"step": "#4c72b0", "scheduler": "#c8c8c8", "offload": "#dd8452"}
_ARROWS = {"spawn": "#55a868", "message": "#8172b3", "ask": "#8172b3", "reply": "#c44e52",
           "wake": "#937860"}


class PlotUnavailable(ImportError):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable(
            "drawing a trace needs matplotlib, which is not installed: "
            "pip install coop-scheduler[plot]") from None
    matplotlib.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt

    return plt


def draw(trace: dict[str, Any], path: str | os.PathLike[str], *, arrows: bool = True,
         title: str | None = None, width: float = 10.0) -> None:
    """Draw ``trace`` (as :func:`coop.tracing.load` reads it) into the image file ``path``
    (its suffix picks the format: ``.png``, ``.svg``, ...).

    ``arrows``: draw the flow arrows too. Raises :class:`PlotUnavailable` (an ImportError
    that says what to install) without matplotlib.
    """
    plt = _pyplot()
    events = trace["traceEvents"]
    names: dict[tuple[Any, Any], str] = {}
    order: dict[tuple[Any, Any], float] = {}
    for event in events:
        if event.get("ph") == "M":
            key = (event["pid"], event.get("tid"))
            if event.get("name") == "thread_name":
                names[key] = str(event["args"]["name"])
            elif event.get("name") == "thread_sort_index":
                order[key] = float(event["args"]["sort_index"])
    timed = [e for e in events if e.get("ph") != "M" and "ts" in e]
    used = sorted({(e["pid"], e.get("tid")) for e in timed},
                  key=lambda k: (order.get(k, 0.0), str(k)))
    lanes = {key: n for n, key in enumerate(used)}
    if timed:
        start = min(float(e["ts"]) for e in timed)
        end = max(float(e["ts"]) + float(e.get("dur", 0)) for e in timed)
    else:
        start, end = 0.0, 1.0
    span = max(end - start, 1e-3)
    unit, scale = (("s", 1e6) if span >= 2e6 else ("ms", 1e3) if span >= 2e3 else ("µs", 1.0))
    least = span / scale / 400  # a bar at least this wide, so that a nanosecond step shows

    def x(ts: float) -> float:
        return (ts - start) / scale

    height = 0.6
    fig, ax = plt.subplots(figsize=(width, 0.45 * len(lanes) + 1.2), dpi=100)
    bars: dict[tuple[int, str], list[tuple[float, float]]] = {}
    begun: dict[tuple[Any, Any], dict[str, Any]] = {}
    for event in timed:
        ph = event["ph"]
        key = (event["pid"], event.get("tid"))
        if ph == "X":
            cat = "scheduler" if event.get("cat") == "scheduler" else "step"
            bars.setdefault((lanes[key], cat), []).append(
                (x(float(event["ts"])), max(float(event["dur"]) / scale, least)))
        elif ph == "b":
            begun[(event.get("cat"), event["id"])] = event
        elif ph == "e":
            first = begun.pop((event.get("cat"), event["id"]), None)
            if first is not None:
                bars.setdefault((lanes[key], "offload"), []).append(
                    (x(float(first["ts"])),
                     max((float(event["ts"]) - float(first["ts"])) / scale, least)))
    for (lane, cat), spans in bars.items():
        ax.broken_barh(spans, (lane - height / 2, height), facecolors=_COLOURS[cat],
                       edgecolor="none")
    if arrows:
        starts: dict[Any, dict[str, Any]] = {}
        for event in timed:
            if event["ph"] == "s":
                starts[(event.get("cat"), event["id"])] = event
            elif event["ph"] == "f":
                first = starts.pop((event.get("cat"), event["id"]), None)
                if first is None:
                    continue
                a = lanes[(first["pid"], first.get("tid"))]
                b = lanes[(event["pid"], event.get("tid"))]
                ax.annotate("", xy=(x(float(event["ts"])), b),
                            xytext=(x(float(first["ts"])), a),
                            arrowprops={"arrowstyle": "->", "lw": 0.8,
                                        "color": _ARROWS.get(str(event.get("name")), "#444")})
    ax.set_yticks(range(len(used)))
    ax.set_yticklabels([names.get(key, f"{key[0]}/{key[1]}") for key in used], fontsize=8)
    ax.set_ylim(max(len(used), 1) - 0.5, -0.5)
    ax.set_xlim(-span / scale * 0.01, span / scale * 1.01)
    clock = trace.get("otherData", {}).get("clock")
    axis = "virtual time" if clock == "virtual" else "time"
    ax.set_xlabel(f"{axis} ({unit}, from the first event)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", lw=0.3, alpha=0.5)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(os.fspath(path))
    plt.close(fig)
