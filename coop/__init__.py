"""coop: a cooperative scheduler for plain Python generators."""

# First of all: decide whether the compiled kernel or the pure-Python one is imported below.
from . import _native

_native.select(__name__)

# ruff: noqa: E402

# Each subsystem lists its public names in its own __all__; they are re-exported here so that
# a new name needs no edit to this file.
from . import actors, interrupts, offload, structured, sync, taskgroup
from . import lowlevel as lowlevel  # so that `coop.lowlevel` works after `import coop`
from . import testing as testing  # coop.testing.explore, after `import coop`
from ._native import kernel_build
from .actors import *  # noqa: F403
from .clock import RealClock, VirtualClock
from .dump import dump_tasks
from .effects import Effect, cancel, current_task, join, now, sleep, spawn
from .errors import (
    Cancelled,
    CoopUsageError,
    Deadlock,
    DebugWarning,
    Interrupted,
    Preempted,
    Timeout,
    WorkerCrashed,
)
from .interrupts import *  # noqa: F403
from .lowlevel import Scheduler, Task, TaskState, WaitQueue
from .offload import *  # noqa: F403
from .policy import FifoPolicy, RandomPolicy
from .runner import current_time, run
from .signals import wait_signal
from .structured import *  # noqa: F403
from .sync import *  # noqa: F403
from .taskgroup import *  # noqa: F403

__all__ = [
    "Cancelled",
    "CoopUsageError",
    "Deadlock",
    "DebugWarning",
    "Interrupted",
    "Preempted",
    "Effect",
    "FifoPolicy",
    "RandomPolicy",
    "RealClock",
    "Scheduler",
    "Task",
    "TaskState",
    "Timeout",
    "VirtualClock",
    "WaitQueue",
    "WorkerCrashed",
    "cancel",
    "current_task",
    "current_time",
    "dump_tasks",
    "join",
    "kernel_build",
    "now",
    "run",
    "sleep",
    "spawn",
    "wait_signal",
    *actors.__all__,
    *offload.__all__,
    *structured.__all__,
    *interrupts.__all__,
    *taskgroup.__all__,
    *sync.__all__,
]

__version__ = "0.1.0"
