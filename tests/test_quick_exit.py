"""quick_exit: the scheduler's wake-up timers are cancelled, nothing else is touched."""

from __future__ import annotations

import subprocess
import sys
import threading

from snakemake.scheduling.job_scheduler import JobScheduler

from snakeyard.quick_exit import cancel_scheduler_wakeups


class FakeScheduler:
    """Starts its wake-ups the way Snakemake's JobScheduler does: a Timer and a lambda."""

    def __init__(self):
        self.woken = threading.Event()

    def _schedule_reevalutation(self, delay: float) -> threading.Timer:
        timer = threading.Timer(delay, lambda: self.woken.set())
        timer.start()
        return timer


def test_the_installed_snakemake_still_wakes_its_scheduler_this_way():
    # quick_exit finds the timers by the name of the method that starts them
    assert callable(getattr(JobScheduler, "_schedule_reevalutation", None))


def test_pending_wakeups_are_cancelled_and_other_timers_left_alone():
    scheduler = FakeScheduler()
    wakeups = [scheduler._schedule_reevalutation(600) for _ in range(3)]
    other_fired = threading.Event()
    other = threading.Timer(600, other_fired.set)
    other.start()
    try:
        assert cancel_scheduler_wakeups() == 3
        for timer in wakeups:
            timer.join(timeout=30)
            assert not timer.is_alive()
        assert not scheduler.woken.is_set()  # cancelled, not fired early
        assert other.is_alive()
    finally:
        other.cancel()
        other.join()
    assert not other_fired.is_set()
    assert cancel_scheduler_wakeups() == 0


def test_the_heap_is_frozen_at_exit_only():
    # handlers run last registered first: the report below runs after the freeze
    code = (
        "import atexit, gc\n"
        "from snakeyard.quick_exit import skip_final_collection\n"
        "atexit.register(lambda: print('at exit:', gc.get_freeze_count() > 0))\n"
        "skip_final_collection()\n"
        "print('before exit:', gc.get_freeze_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["before exit: 0", "at exit: True"]
