"""python -m coop: --version, run (options applied to the script's coop.run calls, or its
main()), trace (a summary, a check, a picture). Each in a subprocess, with a timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import coop
from coop import tracing

ROOT = Path(__file__).resolve().parent.parent


def coop_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # This tree's coop, whichever directory the command runs in.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "coop", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd or ROOT, env=env)


def script(tmp_path: Path, source: str, name: str = "prog.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def test_version_names_the_version_and_the_kernel():
    done = coop_cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"coop {coop.__version__}, kernel: {coop.kernel_build()}"


def test_no_command_prints_the_help():
    done = coop_cli()
    assert done.returncode == 2
    assert "run" in done.stderr and "trace" in done.stderr


def test_run_applies_its_options_to_the_scripts_own_coop_run(tmp_path: Path):
    prog = script(tmp_path, """
        import sys
        import coop

        def main():
            yield coop.sleep(3600)
            print("at", coop.current_time(), "args", sys.argv[1:])

        if __name__ == "__main__":
            coop.run(main())
            coop.run(main())
    """)
    out = tmp_path / "out.json"
    done = coop_cli("run", "--virtual-clock", "--trace", str(out), str(prog), "a", "--b",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # An hour of sleep took no time: the virtual clock; the script saw its own arguments.
    assert done.stdout.splitlines() == ["at 3600.0 args ['a', '--b']"] * 2
    assert "out-2.json" in done.stderr
    for path in (out, tmp_path / "out-2.json"):
        trace = tracing.load(path)
        assert tracing.check(trace) == []
        assert trace["otherData"]["clock"] == "virtual"


def test_run_runs_main_when_the_script_does_not_call_coop_run(tmp_path: Path):
    prog = script(tmp_path, """
        import coop

        def child():
            yield coop.sleep(1)

        def main():
            yield coop.join((yield coop.spawn(child(), name="child")))
            print("main done at", coop.current_time())
    """)
    out = tmp_path / "t.json"
    done = coop_cli("run", "--trace", str(out), "--virtual-clock", "--debug", str(prog))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "main done at 1.0"
    trace = tracing.load(out)
    assert tracing.check(trace) == []
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert {"main", "child"} <= names


def test_run_says_when_there_is_nothing_to_run(tmp_path: Path):
    prog = script(tmp_path, "print('plain python')\n")
    done = coop_cli("run", str(prog))
    assert done.returncode == 2
    assert done.stdout == "plain python\n"
    assert "called no coop.run()" in done.stderr
    missing = coop_cli("run", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_run_passes_the_scripts_exit_status_on(tmp_path: Path):
    prog = script(tmp_path, """
        import sys
        import coop

        def main():
            yield coop.sleep(0)
            sys.exit(3)

        coop.run(main())
    """)
    out = tmp_path / "t.json"
    done = coop_cli("run", "--trace", str(out), str(prog))
    assert done.returncode == 3
    assert tracing.check(tracing.load(out)) == []


def test_trace_summarises_checks_and_draws(tmp_path: Path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "t.json", tmp_path / "t.png"

    def main():
        yield coop.sleep(1)

    coop.run(main(), clock=coop.VirtualClock(), trace=out)
    done = coop_cli("trace", str(out), "--png", str(png), "--title", "t")
    assert done.returncode == 0, done.stderr
    assert "virtual clock" in done.stdout and f"drew {png}" in done.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_trace_reports_a_malformed_or_unreadable_file(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"ph": "B", "pid": 1, "tid": 1, "ts": 0, "name": "x"}]))
    done = coop_cli("trace", str(bad))
    assert done.returncode == 1
    assert "B without E" in done.stdout and "no thread_name" in done.stdout
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    done = coop_cli("trace", str(junk))
    assert done.returncode == 2 and "cannot read" in done.stderr


def test_trace_png_without_matplotlib_says_what_to_install(tmp_path: Path):
    out = tmp_path / "t.json"
    out.write_text(json.dumps({"traceEvents": []}))
    code = ("import sys; sys.modules['matplotlib'] = None; from coop.cli import main; "
            f"sys.exit(main(['trace', {str(out)!r}, '--png', {str(tmp_path / 'x.png')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 2
    assert "pip install coop-scheduler[plot]" in done.stderr


def test_run_a_script_that_offloads_to_processes(tmp_path: Path):
    prog = script(tmp_path, """
        import coop

        def square(x):
            return x * x

        def main():
            print((yield coop.to_process(square, 7)))

        if __name__ == "__main__":
            coop.run(main(), processes=1)
    """)
    out = tmp_path / "t.json"
    done = coop_cli("run", "--trace", str(out), str(prog))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "49\n"
    trace = tracing.load(out)
    assert tracing.check(trace) == []
    assert [e["name"] for e in trace["traceEvents"] if e["ph"] == "b"] == ["to_process(square)"]


RACY = """
import coop

def program():
    balance = {"value": 100}

    def withdraw(amount, pause):
        for _ in range(pause):
            yield
        seen = balance["value"]
        yield
        balance["value"] = seen - amount

    def main():
        a = yield coop.spawn(withdraw(30, 0), name="a")
        b = yield coop.spawn(withdraw(50, 2), name="b")
        yield coop.join(a)
        yield coop.join(b)
        print("balance", balance["value"])
        assert balance["value"] == 20, f"lost an update: {balance['value']}"
    return main()

def fine():
    def main():
        yield
    return main()

if __name__ == "__main__":
    raise SystemExit("the CLI must not run this block")
"""


def test_explore_finds_the_race_and_replay_reproduces_it(tmp_path):
    path = script(tmp_path, RACY, "bank.py")
    found = coop_cli("explore", f"{path}:program", "--runs", "200")
    assert found.returncode == 1, found.stderr
    assert "AssertionError: lost an update: 70" in found.stdout
    token = next(word for word in found.stdout.split() if word.startswith("coop1-"))
    assert f"python -m coop replay {path}:program {token}" in found.stdout
    again = coop_cli("replay", f"{path}:program", token)
    assert again.returncode == 1
    assert "AssertionError: lost an update: 70" in again.stderr
    assert again.stdout == "balance 70\n"
    mismatch = coop_cli("replay", f"{path}:fine", token)
    assert mismatch.returncode == 2 and "does not fit" in mismatch.stderr
    damaged = coop_cli("replay", f"{path}:program", "nonsense")
    assert damaged.returncode == 2 and "not a coop schedule token" in damaged.stderr


def test_explore_of_a_correct_program_exits_0_and_says_so(tmp_path):
    path = script(tmp_path, RACY, "bank.py")
    done = coop_cli("explore", f"{path}:fine", "--strategy", "dfs:2", "--runs", "50")
    assert done.returncode == 0, done.stderr
    assert "exhausted" in done.stdout
    bad = coop_cli("explore", f"{path}:missing")
    assert bad.returncode != 0 and "has no 'missing'" in bad.stderr
    wrong = coop_cli("explore", f"{path}:program", "--strategy", "fastest")
    assert wrong.returncode != 0 and "--strategy takes" in wrong.stderr


def test_examples_lists_and_runs_them():
    listed = coop_cli("examples")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert "bank_race" in names and "philosophers" in names
    ran = coop_cli("examples", "philosophers")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout
    missing = coop_cli("examples", "nope")
    assert missing.returncode == 2 and "no example 'nope'" in missing.stderr
