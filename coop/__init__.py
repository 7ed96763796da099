"""coop: a cooperative scheduler for plain Python generators."""

from .clock import RealClock, VirtualClock
from .effects import Effect, cancel, current_task, join, now, sleep, spawn
from .errors import Cancelled, CoopUsageError, Deadlock, Timeout, WorkerCrashed
from .kernel import Scheduler, WaitQueue
from .policy import FifoPolicy, RandomPolicy
from .runner import run
from .task import Task, TaskState

__all__ = [
    "Cancelled",
    "CoopUsageError",
    "Deadlock",
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
    "join",
    "now",
    "run",
    "sleep",
    "spawn",
]

__version__ = "0.1.0"
