"""Let ``snakemake`` end as soon as the workflow is over.

Two waits follow a finished run that have nothing to do with the work, and cost about
a second per call, so they show on every short run and on each round of a sweep
(figures from ``benchmarks/sweeps.py``, Snakemake 9.27, Python 3.11):

- Snakemake caps job starts per timespan (``--max-jobs-per-timespan``, 100 per second
  by default). After each scheduling pass it starts a ``threading.Timer`` of one
  timespan to wake the scheduler again. The timer is not a daemon thread, so after the
  last job the interpreter waits for it: up to one second. The workflow's
  ``onsuccess``/``onerror`` hooks run once the scheduler has stopped, when nothing
  listens for those wake-ups any more, and cancel them.
- At exit, Python runs a last garbage collection over every object alive: in a
  Snakemake process (pandas, SQLAlchemy, the DAG) about a quarter of a second.
  Freezing the heap at exit (``gc.freeze``) skips it. Objects are still freed; only
  the cycle search over that heap is skipped, which Python never promises to finish
  at exit anyway.
"""

from __future__ import annotations

import atexit
import gc
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


def skip_final_collection() -> None:
    """Freeze the heap at interpreter exit, so that no last full collection runs."""
    atexit.register(gc.freeze)
