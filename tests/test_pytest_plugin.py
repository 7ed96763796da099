"""coop's pytest plugin (coop.testing.pytest_plugin), run on test files of its own with pytester.

The plugin is loaded with ``-p coop.testing.pytest_plugin``: once coop is installed with its
``pytest11`` entry point, pytest loads it by itself as well, and the plugin makes that second
load a no-op (test_the_entry_point_loads_the_plugin_and_minus_p_too checks both).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
PLUGIN = ["-p", "coop.testing.pytest_plugin"]
REPLAY = re.compile(r'replay it: pytest --coop-replay (coop1-[\w-]+) "([^"]+)"')

RACY = """
import coop
import pytest


def withdraw(balance, amount, pause):
    for _ in range(pause):
        yield
    seen = balance["value"]
    yield
    balance["value"] = seen - amount


@pytest.mark.coop_explore(runs=300)
def test_withdrawals():
    balance = {"value": 100}
    a = yield coop.spawn(withdraw(balance, 30, 0), name="a")
    b = yield coop.spawn(withdraw(balance, 50, 2), name="b")
    yield coop.join(a)
    yield coop.join(b)
    print("balance:", balance["value"])
    assert balance["value"] == 20
"""

LOCKED = """
import coop
import pytest


def withdraw(balance, lock, amount, pause):
    for _ in range(pause):
        yield
    with (yield lock.acquire()):
        seen = balance["value"]
        yield
        balance["value"] = seen - amount


@pytest.mark.coop_explore(runs=300)
def test_locked_withdrawals():
    balance, lock = {"value": 100}, coop.Lock()
    yield coop.gather(withdraw(balance, lock, 30, 0), withdraw(balance, lock, 50, 2))
    assert balance["value"] == 20
"""


@pytest.fixture(autouse=True)
def _only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    # The inner runs load no other plugin than those asked for: quicker, and in file order.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN, *args)


def replay_line(result: pytest.RunResult) -> tuple[str, str]:
    found = REPLAY.search(result.stdout.str())
    assert found, result.stdout.str()
    return found.group(1), found.group(2)


# ------------------------------------------------------------------- exploring


def test_a_racy_test_fails_with_the_schedule_its_token_and_the_replay_command(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_racy=RACY)
    result = run(pytester, "--coop-no-database")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*assert balance*== 20",               # the test's own line, from the cause
        "E       assert 70 == 20",
        "*ExplorationFailed: AssertionError: assert 70 == 20",
        "*found in run * shrunk to 1 move(s)*",
        "*step *: held 'a' back until another task blocked or ended",
        "*token: coop1-*",
        '*replay it: pytest --coop-replay coop1-* "test_racy.py::test_withdrawals"',
        "*Captured stdout call*",
        "balance: 70",                          # what the failing run printed
    ])
    _, nodeid = replay_line(result)
    assert nodeid == "test_racy.py::test_withdrawals"


def test_replay_reproduces_the_same_assertion(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_racy=RACY)
    token, nodeid = replay_line(run(pytester, "--coop-no-database"))
    replayed = run(pytester, "--coop-replay", token, nodeid)
    replayed.assert_outcomes(failed=1)
    replayed.stdout.fnmatch_lines(["E       assert 70 == 20", "balance: 70"])
    assert "ExplorationFailed" not in replayed.stdout.str()  # the test's own exception


def test_a_token_that_does_not_fit_says_schedule_mismatch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_racy=RACY, test_locked=LOCKED)
    token, _ = replay_line(run(pytester, "--coop-no-database", "test_racy.py"))
    result = run(pytester, "--coop-replay", token, "test_locked.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["ScheduleMismatch: the schedule token does not fit this "
                                 "program*Explore again*"])
    damaged = run(pytester, "--coop-replay", "coop1-!!", "test_locked.py")
    damaged.assert_outcomes(failed=1)
    damaged.stdout.fnmatch_lines(["--coop-replay: the schedule token 'coop1-!!' is damaged*"])


def test_replay_wants_one_marked_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_racy=RACY, test_locked=LOCKED)
    result = run(pytester, "--coop-replay", "coop1-AAXllKSEDgECAA")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--coop-replay replays one @pytest.mark.coop_explore test*"
                                 "2 are selected*"])


def test_a_correct_test_passes_and_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_locked=LOCKED)
    run(pytester, "--strict-markers").assert_outcomes(passed=1)
    run(pytester, "--markers").stdout.fnmatch_lines(["@pytest.mark.coop_explore(runs=1000, *"])
    assert not (pytester.path / ".coop").exists()  # nothing kept for a passing test


def test_async_def_tests_are_explored_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_async="""
        import coop
        import pytest

        async def bump(counter, pause):
            for _ in range(pause):
                await coop.sleep(0)
            seen = counter["n"]
            await coop.sleep(0)
            counter["n"] = seen + 1

        @pytest.mark.coop_explore(runs=300)
        async def test_racy():
            counter = {"n": 0}
            await coop.gather(bump(counter, 0), bump(counter, 2))
            assert counter["n"] == 2

        @pytest.mark.coop_explore(runs=50)
        async def test_sleeps_take_no_time():
            await coop.sleep(3600)
            assert coop.current_time() == 3600
    """)
    result = run(pytester, "--coop-no-database")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["E       assert 1 == 2", "*test_async.py::test_racy*"])


def test_coop_runs_overrides_the_marker(pytester: pytest.Pytester) -> None:
    log = pytester.path / "runs.txt"
    pytester.makepyfile(test_count=f"""
        import coop
        import pytest

        def step():
            yield

        @pytest.mark.coop_explore(runs=5, strategy="random")
        def test_counted():
            with open({str(log)!r}, "a") as file:
                file.write("run\\n")
            yield coop.gather(step(), step(), step())
    """)
    run(pytester).assert_outcomes(passed=1)
    assert log.read_text().count("run") == 5
    log.unlink()
    run(pytester, "--coop-runs", "7", "--coop-seed", "3").assert_outcomes(passed=1)
    assert log.read_text().count("run") == 7


# ------------------------------------------------------------------- the database


def test_a_saved_failure_is_replayed_first_and_dropped_once_fixed(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_racy=RACY)
    run(pytester).assert_outcomes(failed=1)
    saved = list((pytester.path / ".coop" / "explore").glob("*.tokens"))
    assert len(saved) == 1
    again = run(pytester)
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*saved failure from *explore, replayed before exploring*"])
    assert replay_line(again)[0] in saved[0].read_text()
    # Fixed, the saved schedule passes: it is forgotten, and exploring finds nothing.
    pytester.makepyfile(test_racy=RACY.replace("balance[\"value\"] = seen - amount",
                                               "balance[\"value\"] -= amount"))
    run(pytester).assert_outcomes(passed=1)
    assert not saved[0].exists()


def test_no_database_keeps_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_racy=RACY)
    run(pytester, "--coop-no-database").assert_outcomes(failed=1)
    assert not (pytester.path / ".coop").exists()
    run(pytester, "--coop-no-database").stdout.fnmatch_lines(["*found in run *"])


# ------------------------------------------------------------------- fixtures


def test_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixtures="""
        import coop
        import pytest

        def main():
            yield coop.sleep(5)
            return "done"

        def test_virtual_clock(virtual_clock):
            assert isinstance(virtual_clock, coop.VirtualClock) and virtual_clock.now() == 0

        def test_coop_run_uses_the_virtual_clock(coop_run, virtual_clock):
            assert coop_run(main()) == "done"
            assert virtual_clock.now() == 5

        def test_coop_run_takes_run_options(coop_run, virtual_clock):
            other = coop.VirtualClock()
            assert coop_run(main(), clock=other, policy=coop.RandomPolicy(1)) == "done"
            assert (other.now(), virtual_clock.now()) == (5, 0)
    """)
    run(pytester).assert_outcomes(passed=3)


def test_explored_tests_get_their_fixtures_set_up_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_shared="""
        import coop
        import pytest

        SETUPS, RUNS = [], []

        @pytest.fixture
        def amount():
            SETUPS.append(1)
            return 30

        def step():
            yield

        @pytest.mark.coop_explore(runs=20, strategy="random")
        @pytest.mark.parametrize("start", [100, 200])
        def test_uses_fixtures(amount, start):
            RUNS.append(start)
            yield coop.gather(step(), step())
            assert start - amount in (70, 170)

        def test_afterwards():
            assert SETUPS == [1, 1]            # once per test, not once per run
            assert RUNS == [100] * 20 + [200] * 20

        class TestInAClass:
            @pytest.mark.coop_explore(runs=3)
            def test_method(self, amount):
                yield
                assert amount == 30
    """)
    run(pytester).assert_outcomes(passed=4)


def test_the_clock_fixtures_are_refused_under_explore(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_refused="""
        import pytest

        @pytest.mark.coop_explore
        def test_clock(virtual_clock):
            yield
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["test_clock uses virtual_clock: under @pytest.mark.coop_"
                                 "explore every run has its own VirtualClock*"])


def test_marker_misuse_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_misuse="""
        import pytest

        @pytest.mark.coop_explore(runz=3)
        def test_typo():
            yield

        @pytest.mark.coop_explore
        def test_not_a_generator():
            pass
    """)
    result = run(pytester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*got unknown option(s) runz; it takes runs, strategy, *",
                                 "*is for a generator function or an async def*"])


# ------------------------------------------------------------------- leaving others alone


def test_unmarked_tests_are_left_to_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="""
        def test_plain():
            assert True
    """, test_generator="""
        def test_generator():
            yield
    """)
    run(pytester, "test_plain.py").assert_outcomes(passed=1)
    with_plugin = run(pytester, "test_generator.py")
    without = pytester.runpytest("test_generator.py")
    assert with_plugin.ret == without.ret == pytest.ExitCode.INTERRUPTED
    with_plugin.stdout.fnmatch_lines(["*'yield' keyword is allowed in fixtures, but not in "
                                      "tests (test_generator)*"])


def test_importing_the_plugin_imports_nothing_but_coop() -> None:
    code = ("import sys, pytest, coop; before = set(sys.modules); "
            "import coop.testing.pytest_plugin; "
            "print(sorted(set(sys.modules) - before))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    new = eval(done.stdout)
    assert new and all(name.startswith("coop.") for name in new), new


# ------------------------------------------------------------------- the entry point


def test_the_entry_point_is_declared() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"coop": "coop.testing.pytest_plugin"}


def test_the_installed_metadata_lists_the_entry_point() -> None:
    try:
        dist = importlib.metadata.distribution("coop-scheduler")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("coop is not installed")
    if not any(ep.group == "pytest11" for ep in dist.entry_points):
        pytest.skip("the installed coop predates its pytest11 entry point: install it again")
    listed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert listed.get("coop") == "coop.testing.pytest_plugin"


def test_the_entry_point_loads_the_plugin_and_minus_p_too(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    """As installed: a distribution whose entry point names the plugin (a stand-in for coop's
    own, whether or not it is installed yet), with and without -p on top."""
    site = tmp_path / "site"
    info = site / "coop_plugin_check-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: coop-plugin-check\n"
                                   "Version: 0\n")
    (info / "entry_points.txt").write_text("[pytest11]\ncoop = coop.testing.pytest_plugin\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), str(site)]))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(test_locked=LOCKED)
    pytester.makeconftest("")
    for extra in ([], PLUGIN, ["-p", "coop"]):
        result = pytester.runpytest_subprocess(*extra, "--strict-markers", "-p", "no:randomly")
        result.assert_outcomes(passed=1)
    # A conftest that asks for the plugin by its module name, with it installed, is fine too.
    pytester.makeconftest('pytest_plugins = ["coop.testing.pytest_plugin"]')
    pytester.runpytest_subprocess("--strict-markers").assert_outcomes(passed=1)


def test_the_guide_examples_pass_and_fail_as_it_says(pytester: pytest.Pytester) -> None:
    """docs/guides/testing.rst's plugin examples, as pytest collects them (test_docs runs
    them as the scripts they also are)."""
    from test_docs import parse_blocks

    blocks = [b.code for b in parse_blocks(REPO / "docs" / "guides" / "testing.rst")
              if "coop_explore" in b.code or "coop_run" in b.code]
    explored, fixtures = [b for b in blocks if b.startswith("# test_")]
    pytester.makepyfile(test_bank=explored, test_waits=fixtures)
    result = run(pytester, "--coop-no-database", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_bank.py::test_withdrawals FAILED*",
                                 "*held 'withdraw-2' back until another task blocked or ended",
                                 '*replay it: pytest --coop-replay * "test_bank.py::test_'
                                 'withdrawals"'])



def test_module_marks_and_invariants(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_module_mark="""
        import coop
        import pytest

        pytestmark = pytest.mark.coop_explore(runs=3)

        def test_explored():
            yield
    """, test_invariant="""
        import coop
        import pytest

        INSIDE = {"n": 0}

        def enter():
            INSIDE["n"] += 1
            yield
            INSIDE["n"] -= 1

        @pytest.mark.coop_explore(runs=50, invariant=lambda: INSIDE["n"] <= 1)
        def test_one_at_a_time():
            INSIDE["n"] = 0
            yield coop.gather(enter(), enter())
    """)
    result = run(pytester, "--coop-no-database")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ExplorationFailed: InvariantViolated*"])
