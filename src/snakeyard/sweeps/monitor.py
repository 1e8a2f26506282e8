"""The stage's side of a running trial: it applies the sweep's early termination policy
to each value of the primary metric the script reports (:mod:`.channel`), and cancels
the trial when the sweep's time budget runs out.

A :class:`TrialMonitor` is handed to :func:`snakeyard.training.runner.execute`, which
passes its pipe ends to the script, calls :meth:`TrialMonitor.watch` once the script has
started and :meth:`TrialMonitor.close` once it has ended, and records the run as
``Canceled`` with :attr:`TrialMonitor.canceled` as the reason when that is set.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..records import RunRecord, TrainSpec
from .budget import configured_minutes, deadline, expired_reason
from .channel import CHANNEL_VARIABLE, METRIC_VARIABLE
from .policies import Policy, cancel_reason, parse_policy

# how long a script canceled by the time budget has to end after SIGTERM before SIGKILL
GRACE_SECONDS = 10


class TrialMonitor:
    """Decides, while a trial's script runs, whether it goes on (see the module)."""

    def __init__(
        self,
        *,
        policy: Policy | None,
        goal: str,
        metric: str,
        reports: Any = None,
        deadline: float | None = None,
        minutes: float | None = None,
        log: Callable[[str], None] = print,
    ):
        self.policy, self.goal, self.metric = policy, goal, metric
        self.reports = reports  # a study.Reports when there is a policy
        self.deadline, self.minutes = deadline, minutes
        self.log = log
        self.canceled: str | None = None
        self.history: list[float] = []
        # the script reads answers from the first pipe and writes values to the second
        self._answers_read, self._answers_write = os.pipe()
        self._values_read, self._values_write = os.pipe()
        self.pass_fds = (self._answers_read, self._values_write)
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def environment(self) -> dict[str, str]:
        """The variables that tell the script's Run API where to report."""
        return {
            CHANNEL_VARIABLE: f"{self._answers_read},{self._values_write}",
            METRIC_VARIABLE: self.metric,
        }

    def watch(self, child: subprocess.Popen) -> None:
        """Serve the started script's reports, in a thread of this process."""
        # the script has its copies: this process keeps only its own ends, so a script
        # that ends closes the values pipe for good
        os.close(self._answers_read)
        os.close(self._values_write)
        self._thread = threading.Thread(target=self._serve, args=(child,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving (the script has ended)."""
        self._closed.set()
        ends = [self._answers_write, self._values_read]
        if self._thread is not None:
            self._thread.join(timeout=GRACE_SECONDS + 5)
        else:  # the script never started: the ends meant for it are still here
            ends += self.pass_fds
        for fd in ends:
            try:
                os.close(fd)
            except OSError:
                pass

    def _serve(self, child: subprocess.Popen) -> None:
        values = os.fdopen(self._values_read, "r", encoding="utf-8", closefd=False)
        while not self._closed.is_set():
            wait = 1.0 if self.deadline is None else min(1.0, self.deadline - time.time())
            if wait <= 0:
                self._end(child, expired_reason(self.minutes or 0))
                return
            ready, _, _ = select.select([self._values_read], [], [], wait)
            if not ready:
                continue
            line = values.readline()
            if not line:
                return  # the script has ended
            reason = self._decide(line)
            try:
                os.write(self._answers_write, (json.dumps({"cancel": reason}) + "\n").encode())
            except OSError:
                return
            if reason:
                self.canceled = reason
                self.log(f"trial canceled: {reason}")
                return

    def _decide(self, line: str) -> str | None:
        """The reason to cancel at this value, or None; never raises: a study that
        cannot be read must not stop a trial."""
        try:
            value = float(json.loads(line)["value"])
        except (ValueError, KeyError, TypeError):
            return None
        self.history.append(value)
        if self.policy is None:
            return None
        try:
            self.reports.add(len(self.history), value)
            if not self.policy.applies(len(self.history)):
                return None
            return cancel_reason(self.policy, self.goal, self.history, self.reports.others())
        except Exception as error:  # noqa: BLE001 - see the docstring
            self.log(f"early termination not applied at interval {len(self.history)}: "
                     f"{type(error).__name__}: {error}")  # fmt: skip
            return None

    def _end(self, child: subprocess.Popen, reason: str) -> None:
        """Cancel the running script: SIGTERM, then SIGKILL after a grace period."""
        if child.poll() is not None:
            return  # it has ended by itself
        self.canceled = reason
        self.log(f"trial canceled: {reason}")
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()


def sweep_folder(experiment: str) -> Path:
    """Where a sweep's study and clock live: ``results/<experiment>/study`` of the
    workflow's working directory, which every job of the sweep shares."""
    return Path("results") / experiment / "study"


def monitor_for(
    experiment: str, spec: TrainSpec, log: Callable[[str], None]
) -> TrialMonitor | str | None:
    """The monitor of a sweep trial that has a policy or a time budget; the reason not
    to start it when the budget has run out already; None otherwise."""
    trial, sweep = spec.get("trial"), spec.get("sweep") or {}
    if trial is None:
        return None
    minutes = configured_minutes(experiment)
    folder = Path(sweep.get("folder") or sweep_folder(experiment))
    end = deadline(folder, minutes)
    if end is not None and time.time() >= end:
        return expired_reason(minutes)
    policy = parse_policy("early_termination", sweep.get("early_termination"))
    if policy is None and end is None:
        return None
    reports = None
    if policy is not None:
        from .study import Reports

        reports = Reports(folder, sweep["study"], sweep["goal"], trial["id"])
    return TrialMonitor(
        policy=policy, goal=sweep.get("goal", "maximize"), metric=sweep.get("primary_metric", ""),
        reports=reports, deadline=end, minutes=minutes, log=log,
    )  # fmt: skip


def not_started(experiment: str, spec: TrainSpec, reason: str) -> RunRecord:
    """The record of a trial the budget kept from starting: no run, no metrics."""
    return {  # type: ignore[typeddict-item] - a trial's record without a run
        "id": None,
        "experiment": experiment,
        "status": "Canceled",
        "canceled": f"not started: {reason}",
        "start": None,
        "duration_seconds": None,
        "metrics": {},
        "trial": spec["trial"],
    }
