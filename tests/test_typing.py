"""What a type checker sees of coop: mypy --strict runs on a small typed program and each
``reveal_type`` must show the type this table expects, for ``yield from`` in generators and
``await`` in ``async def`` tasks alike (docs/guides/typing.rst lists the same types).

The program is checked, not run; each line that reveals is tagged ``# T:<key>`` and the
expectations are looked up by key, so that the table reads as the guide's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PROGRAM = '''
from collections.abc import Generator
from typing import Any
import signal

import coop


def child(n: int) -> Generator[Any, Any, int]:
    yield coop.sleep(n)
    return n


def text(n: int) -> Generator[Any, Any, str]:
    yield coop.sleep(n)
    return str(n)


async def data() -> bytes:
    await coop.sleep(1)
    return b"data"


def crunch(blob: bytes, *, rounds: int = 1) -> float:
    return len(blob) * rounds / 2


class Worker(coop.Actor):
    pass


class Other(coop.Actor):
    pass


class Counter(coop.Actor["str | coop.Request[int]", int]):
    def run(self) -> Generator[Any, Any, None]:
        seen = 0
        while True:
            msg = yield from self.recv()
            reveal_type(msg)  # T:recv-typed
            if isinstance(msg, coop.Request):
                msg.reply(seen)
            else:
                seen += len(msg)


def main() -> Generator[Any, Any, None]:
    task = yield from coop.spawn(child(1))
    reveal_type(task)  # T:spawn
    reveal_type((yield from coop.join(task)))  # T:join
    reveal_type((yield from coop.now()))  # T:now
    reveal_type((yield from coop.sleep(1)))  # T:sleep
    reveal_type((yield from coop.current_task()))  # T:current_task
    reveal_type((yield from coop.cancel(task)))  # T:cancel
    reveal_type(coop.current_time())  # T:current_time

    reveal_type((yield from coop.gather(child(1), child(2))))  # T:gather-same
    reveal_type((yield from coop.gather(child(1), text(2), data(), task)))  # T:gather-mixed
    reveal_type((yield from coop.gather(*[child(i) for i in range(9)])))  # T:gather-star
    reveal_type((yield from coop.gather(coop.now(), coop.sleep(1))))  # T:gather-effects
    reveal_type((yield from coop.race(child(1), text(2))))  # T:race
    reveal_type((yield from coop.timeout(1, text(1))))  # T:timeout-gen
    reveal_type((yield from coop.timeout(1, coop.now())))  # T:timeout-effect
    reveal_type((yield from coop.timeout(None, task)))  # T:timeout-task

    reveal_type((yield from coop.to_thread(len, "abc")))  # T:to_thread
    reveal_type((yield from coop.to_process(crunch, b"x", rounds=2)))  # T:to_process
    reveal_type((yield from coop.to_thread(crunch, b"x").on("threads")))  # T:on
    reveal_type((yield from coop.pmap(str, range(3))))  # T:pmap

    lock = coop.Lock()
    reveal_type((yield from lock.acquire()))  # T:lock
    with (yield from lock.acquire()):
        pass
    reveal_type((yield from coop.Semaphore(2).acquire()))  # T:semaphore
    reveal_type((yield from coop.Event().wait()))  # T:event
    cond = coop.Condition()
    with (yield from cond.acquire()):
        reveal_type((yield from cond.wait(timeout=1)))  # T:condition-wait
        reveal_type((yield from cond.wait_for(lambda: "ready")))  # T:condition-wait_for
    reveal_type((yield from coop.Barrier(1).wait()))  # T:barrier
    queue: coop.Queue[int] = coop.Queue()
    reveal_type((yield from queue.put(1)))  # T:queue-put
    reveal_type((yield from queue.get()))  # T:queue-get
    reveal_type((yield from coop.wait_signal(signal.SIGUSR1)))  # T:wait_signal
    reveal_type((yield from coop.TaskGroup.run(lambda group: child(1))))  # T:taskgroup-run

    counter = Counter().start()
    counter.send("hello")
    reveal_type((yield from counter.ask("how many?")))  # T:ask-typed
    worker = Worker().start()
    reveal_type((yield from worker.recv()))  # T:recv-bare
    reveal_type((yield from worker.ask(1)))  # T:ask-bare
    reveal_type((yield from worker.send(1)))  # T:send
    reveal_type((yield from worker.join()))  # T:actor-join
    sup = coop.Supervisor([Worker]).start()
    reveal_type(sup.children)  # T:supervisor-children
    reveal_type(coop.Supervisor([Worker, Other]).children)  # T:supervisor-mixed
    reveal_type(coop.Supervisor([lambda: Worker(name="w")]).children)  # T:supervisor-factory
    anyone: coop.Supervisor = sup  # a bare Supervisor, Actor or Request is still valid
    del anyone


async def amain() -> None:
    task = await coop.spawn(data())
    reveal_type(task)  # T:await-spawn
    reveal_type(await coop.join(task))  # T:await-join
    reveal_type(await coop.now())  # T:await-now
    reveal_type(await coop.gather(data(), child(1)))  # T:await-gather
    reveal_type(await coop.race(data(), child(1)))  # T:await-race
    reveal_type(await coop.timeout(1, data()))  # T:await-timeout
    reveal_type(await coop.to_thread(len, b"abc"))  # T:await-to_thread
    reveal_type(await coop.Event().wait())  # T:await-event
    queue: coop.Queue[str] = coop.Queue()
    reveal_type(await queue.get())  # T:await-queue-get
    async with coop.TaskGroup() as group:
        reveal_type(group.spawn(data()))  # T:await-taskgroup-spawn


reveal_type(coop.run(main()))  # T:run
reveal_type(coop.run(amain()))  # T:run-async
'''

# What each tagged line reveals. mypy names a class by the module that defines it (Task is
# coop._core._task.Task, whatever it is imported as); builtins are shown bare, as mypy 2
# shows them (older versions say builtins.int: the prefix is dropped before comparing).
TASK = "coop._core._task.Task"
EXPECTED = {
    "spawn": f"{TASK}[int]",
    "join": "int",
    "now": "float",
    "sleep": "None",
    "current_task": f"{TASK}[Any]",
    "cancel": "None",
    "current_time": "float",
    "gather-same": "list[int]",
    "gather-mixed": "list[int | str | bytes]",
    "gather-star": "list[int]",
    "gather-effects": "list[float | None]",
    "race": "tuple[int, int | str]",
    "timeout-gen": "str",
    "timeout-effect": "float",
    "timeout-task": "int",
    "to_thread": "int",
    "to_process": "float",
    "on": "float",
    "pmap": "list[str]",
    "lock": "coop.sync._common.Acquired",
    "semaphore": "coop.sync._common.Acquired",
    "event": "bool",
    "condition-wait": "bool",
    "condition-wait_for": "str",
    "barrier": "int",
    "queue-put": "None",
    "queue-get": "int",
    "wait_signal": "signal.Signals",
    "taskgroup-run": "int",
    "recv-typed": "str | coop.actors.request.Request[int]",
    "ask-typed": "int",
    "recv-bare": "Any",
    "ask-bare": "Any",
    "send": "None",
    "actor-join": "Any",
    "supervisor-children": "list[prog.Worker]",
    "supervisor-mixed": "list[coop.actors.base.Actor[Any, Any]]",
    "supervisor-factory": "list[prog.Worker]",
    "await-spawn": f"{TASK}[bytes]",
    "await-join": "bytes",
    "await-now": "float",
    "await-gather": "list[bytes | int]",
    "await-race": "tuple[int, bytes | int]",
    "await-timeout": "bytes",
    "await-to_thread": "int",
    "await-event": "bool",
    "await-queue-get": "str",
    "await-taskgroup-spawn": f"{TASK}[bytes]",
    "run": "None",
    "run-async": "None",
}

REVEALED = re.compile(r'^prog\.py:(\d+): note: Revealed type is "(.*)"$')


def _tags() -> dict[int, str]:
    """The program's tagged lines: line number -> key."""
    tags = {}
    for number, line in enumerate(PROGRAM.splitlines(), 1):
        match = re.search(r"# T:(\S+)$", line)
        if match:
            tags[number] = match.group(1)
    return tags


def test_every_tag_has_one_expectation():
    keys = list(_tags().values())
    assert len(keys) == len(set(keys)), "a tag is used twice"
    assert sorted(keys) == sorted(EXPECTED)


@pytest.mark.slow
def test_mypy_strict_sees_each_effects_result_type(tmp_path: Path):
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mypy is not installed beside this Python")
    (tmp_path / "prog.py").write_text(PROGRAM)
    # MYPYPATH comes before the installed packages: the coop checked is this checkout's.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MYPYPATH"] = str(REPO)
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
         os.devnull, "--show-traceback", "--no-error-summary", "--hide-error-context",
         "--no-pretty", "--show-absolute-path", "prog.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    lines = checked.stdout.splitlines()
    errors = [line for line in lines if ": error:" in line]
    assert not errors and checked.returncode == 0, checked.stdout + checked.stderr
    tags = _tags()
    revealed = {}
    for line in lines:
        match = REVEALED.match(line.replace(str(tmp_path / "prog.py"), "prog.py"))
        if match:
            revealed[tags[int(match.group(1))]] = match.group(2).replace("builtins.", "")
    # A mismatch shows every difference at once, as key: (seen, expected).
    wrong = {key: (revealed.get(key), want) for key, want in EXPECTED.items()
             if revealed.get(key) != want}
    assert not wrong, wrong


@pytest.mark.slow
def test_the_typing_guides_programs_pass_mypy_strict(tmp_path: Path):
    # The guide's programs show typed code and say in comments what each line gives: they must
    # be what they say, strict-clean (tests/test_docs.py runs them; this checks them).
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mypy is not installed beside this Python")
    guide = (REPO / "docs" / "guides" / "typing.rst").read_text()
    blocks = re.findall(r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", guide, re.M)
    assert len(blocks) >= 3
    names = []
    for index, block in enumerate(blocks):
        name = f"guide_{index}.py"
        (tmp_path / name).write_text(textwrap.dedent(block))
        names.append(name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MYPYPATH"] = str(REPO)
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
         os.devnull, *names], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
