"""Let a finished workflow exit at once instead of waiting on Snakemake's rate limiter.

Snakemake (9.x) caps job starts per timespan (``--max-jobs-per-timespan``, 100 per
second by default). After each scheduling pass it starts a ``threading.Timer`` of one
timespan that wakes the scheduler up again. The timer is not a daemon thread, so once
the last job is done the interpreter still waits for it: every ``snakemake`` call that
ran a job ends up to one second late. The workflow's ``onsuccess``/``onerror`` hooks
run after the scheduler has stopped, when nobody listens to those wake-ups any more,
and cancel them.
"""

from __future__ import annotations

import threading

# the method that starts the timers, in snakemake/scheduling/job_scheduler.py
_WAKE_UP = "_schedule_reevalutation"


def cancel_scheduler_wakeups() -> int:
    """Cancel the scheduler's pending wake-up timers; return how many there were."""
    cancelled = 0
    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and _WAKE_UP in getattr(
            function, "__qualname__", ""
        ):
            thread.cancel()
            cancelled += 1
    return cancelled
