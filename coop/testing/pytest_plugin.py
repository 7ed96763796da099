"""coop's pytest plugin: fixtures for coop programs, and tests explored under many schedules.

Installed with coop (the ``pytest11`` entry point ``coop``), so pytest loads it by itself; a
test run that uses none of its fixtures, its marker or its options is not touched by it.

* ``virtual_clock``: a fresh :class:`coop.VirtualClock`.
* ``coop_run``: ``coop_run(main, **run_options)`` runs ``main`` with :func:`coop.run` on the
  ``virtual_clock`` fixture's clock (unless a clock is given) and returns its result.
* ``@pytest.mark.coop_explore(runs=, strategy=, seed=, invariant=, cancellations=,
  time_limit=)`` on a generator function or ``async def`` test: the test body is the main task
  of a program that :func:`coop.testing.explore` runs under many schedules. A failure fails
  the test with the shrunk schedule, its token and the command that replays it.
* Options: ``--coop-runs N``, ``--coop-seed N``, ``--coop-replay TOKEN``,
  ``--coop-no-database``.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import coop

from ._explore import ExplorationFailed, Failure, explore, replay
from ._schedule import Schedule, ScheduleMismatch

MARKER = "coop_explore"
#: What the marker takes, all passed on to :func:`coop.testing.explore`.
MARKER_OPTIONS = ("runs", "strategy", "seed", "invariant", "cancellations", "time_limit")
#: The saved-failures database, under pytest's rootdir.
DATABASE = Path(".coop") / "explore"
#: The name of the entry point that installs this plugin.
ENTRY_POINT = "coop"
#: Fixtures that make no sense in an explored test: explore gives every run its own clock,
#: and the test body already runs as a main task.
_NOT_UNDER_EXPLORE = ("virtual_clock", "coop_run")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    # Loaded twice (the entry point, and ``-p coop.testing.pytest_plugin`` or a conftest's
    # ``pytest_plugins``), pluggy would refuse the same module under its second name: block
    # the other name, so that the second load is skipped instead.
    name = pluginmanager.get_name(sys.modules[__name__])
    for other in (ENTRY_POINT, __name__):
        if other != name and not pluginmanager.has_plugin(other):
            pluginmanager.set_blocked(other)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("coop", "coop: tests explored under many schedules")
    group.addoption("--coop-runs", type=int, metavar="N", default=None,
                    help="runs per @pytest.mark.coop_explore test (overrides the marker's runs)")
    group.addoption("--coop-seed", type=int, metavar="N", default=None,
                    help="the seed of the explorations (overrides the marker's seed)")
    group.addoption("--coop-replay", metavar="TOKEN", default=None,
                    help="replay this schedule token on the selected coop_explore test "
                         "instead of exploring")
    group.addoption("--coop-no-database", action="store_true", default=False,
                    help=f"do not keep failing schedules in {DATABASE}/ under the rootdir "
                         f"(nor try the kept ones first)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(runs=1000, strategy='auto', seed=0, invariant=None, cancellations=False, "
        f"time_limit=None): run this generator or async def test under many schedules "
        f"(coop.testing.explore); a failure reports the schedule and how to replay it")


@pytest.fixture
def virtual_clock() -> coop.VirtualClock:
    """A fresh :class:`coop.VirtualClock`: sleeps on it take no time."""
    return coop.VirtualClock()


@pytest.fixture
def coop_run(virtual_clock: coop.VirtualClock) -> Callable[..., Any]:
    """``coop_run(main, **run_options)``: :func:`coop.run` on the ``virtual_clock`` fixture's
    clock, unless ``clock=`` is given; returns main's result."""

    def run(main: Any, **options: Any) -> Any:
        if options.get("clock") is None:
            options["clock"] = virtual_clock
        return coop.run(main, **options)

    return run


def _is_marked(collector: pytest.Module | pytest.Class, obj: object) -> bool:
    own = getattr(obj, "pytestmark", [])
    return (any(getattr(mark, "name", None) == MARKER for mark in own)
            or collector.get_closest_marker(MARKER) is not None)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Module | pytest.Class, name: str,
                              obj: object) -> Any:
    # pytest refuses a generator function as a test; a marked one is collected as any other
    # function (its parametrization, fixtures and marks), through a stand-in that is not.
    if not (inspect.isgeneratorfunction(obj) and collector.istestfunction(obj, name)
            and _is_marked(collector, obj)):
        return None
    function: Callable[..., Any] = obj

    @functools.wraps(function)
    def stand_in(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return collector.ihook.pytest_pycollect_makeitem(collector=collector, name=name,
                                                     obj=stand_in)


def pytest_collection_finish(session: pytest.Session) -> None:
    token = session.config.getoption("coop_replay")
    if token is None:
        return
    marked = [item.nodeid for item in session.items if item.get_closest_marker(MARKER)]
    if len(marked) != 1:
        raise pytest.UsageError(
            f"--coop-replay replays one @pytest.mark.{MARKER} test: select it, as in "
            f'pytest --coop-replay {token} "path/to/test_file.py::test_name"; '
            + (f"{len(marked)} are selected: {', '.join(marked[:5])}"
               + (", ..." if len(marked) > 5 else "") if marked else "none is selected"))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    marker = pyfuncitem.get_closest_marker(MARKER)
    if marker is None:
        return None
    __tracebackhide__ = _is_report  # the report is the message, the cause shows the test
    function = pyfuncitem.obj
    if not (inspect.isgeneratorfunction(function) or inspect.iscoroutinefunction(function)):
        pytest.fail(f"@pytest.mark.{MARKER} is for a generator function or an async def "
                    f"(its body is the main task); {pyfuncitem.name} is neither",
                    pytrace=False)
    options = _options(pyfuncitem, marker)
    misused = [name for name in _NOT_UNDER_EXPLORE if name in pyfuncitem.fixturenames]
    if misused:
        pytest.fail(f"{pyfuncitem.name} uses {', '.join(misused)}: under @pytest.mark.{MARKER} "
                    f"every run has its own VirtualClock and the test body is already the "
                    f"main task (use coop.current_time(), yield coop.spawn(...))",
                    pytrace=False)
    parameters = inspect.signature(function).parameters
    arguments = {name: pyfuncitem.funcargs[name] for name in parameters
                 if name in pyfuncitem.funcargs}

    def program() -> Any:
        return function(**arguments)

    # The database keys a program by module and qualified name: the node id names the test
    # (its class, its parameters) as the replay command does.
    program.__module__ = function.__module__
    program.__qualname__ = pyfuncitem.nodeid
    token = pyfuncitem.config.getoption("coop_replay")
    if token is not None:
        _replay(program, token, options.get("invariant"))
        return True
    found = explore(program, **options)
    pyfuncitem.user_properties.append(
        ("coop_explore", f"{found.runs} runs, {found.strategy}"
                         + (", exhausted" if found.exhausted else "")))
    if found.failure is not None:
        _fail(found.failure, pyfuncitem.nodeid, found.strategy)
    return True


def _is_report(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    return excinfo.errisinstance(ExplorationFailed)


def _fail(failure: Failure, nodeid: str, strategy: str) -> None:
    __tracebackhide__ = True
    if failure.output:
        sys.stdout.write(failure.output)  # shown as the test's captured stdout
    raise ExplorationFailed(failure, _report(failure, nodeid, strategy)) from failure.exception


def _options(item: pytest.Function, marker: pytest.Mark) -> dict[str, Any]:
    if marker.args:
        pytest.fail(f"@pytest.mark.{MARKER} takes keyword arguments only "
                    f"({', '.join(MARKER_OPTIONS)}), got {marker.args!r}", pytrace=False)
    unknown = sorted(set(marker.kwargs) - set(MARKER_OPTIONS))
    if unknown:
        pytest.fail(f"@pytest.mark.{MARKER} got unknown option(s) {', '.join(unknown)}; it "
                    f"takes {', '.join(MARKER_OPTIONS)}", pytrace=False)
    options = dict(marker.kwargs)
    config = item.config
    for name in ("runs", "seed"):
        given = config.getoption(f"coop_{name}")
        if given is not None:
            options[name] = given
    if not config.getoption("coop_no_database"):
        options["database"] = config.rootpath / DATABASE
    return options


def _replay(program: Callable[[], Any], token: str, invariant: Any) -> None:
    try:
        Schedule.from_token(token)
    except ValueError as err:
        problem = f"--coop-replay: {err}"
    else:
        try:
            replay(program, token, invariant=invariant)
            return
        except ScheduleMismatch as err:
            problem = f"ScheduleMismatch: {err}"
    pytest.fail(problem, pytrace=False)


def _report(failure: Failure, nodeid: str, strategy: str) -> str:
    where = (f"{strategy}, replayed before exploring"
             if failure.run == 0 else f"found in run {failure.run} ({strategy})")
    lines = [f"{type(failure.exception).__name__}: {failure.exception}",
             f"{where}; the schedule, shrunk to {len(failure.steps)} move(s) away from "
             f"coop's default order:"]
    lines += [f"  {step}" for step in failure.steps] or ["  (none: the default order fails)"]
    lines += [f"token: {failure.schedule}",
              f'replay it: pytest --coop-replay {failure.schedule} "{nodeid}"']
    return "\n".join(lines)

