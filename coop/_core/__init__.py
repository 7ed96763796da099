"""coop's kernel, compiled with mypyc (the pure-Python fallback is these same files).

Nothing outside this package imports it but :mod:`coop.lowlevel`, the public contract
(tests/test_layering.py checks it). One module per concern: ``_run`` (the Scheduler: ready
queue, run loop, timer wheel, hand-ins, parking, cancellation), ``_task``, ``_waitqueue``,
``_timers``, ``_io``, ``_deadlock``, ``_instruments``, ``_checks``, ``_cancelling``, ``_cext``
(the C helpers of ``_resume.c``), ``_effects`` (the kernel's own effects) and ``_task_effects``
(join and cancel, kept uncompiled for their messages).
"""
