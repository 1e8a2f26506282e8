"""Early termination policies: when a running trial is canceled, from the values of the
primary metric that the sweep's trials have logged.

The definitions are the hosted service's (Azure Machine Learning, HyperDrive; the
sources are named in docs/sweeps.md, "Early termination"). Standard library only: the
math is plain, and tests check it against hand computations. The values come from the
study (:mod:`snakeyard.sweeps.study`), where every trial's monitor stores them.

An *interval* is one logging of the primary metric: the trial's N-th numeric value of
it is its value at interval N. ``history`` below is a trial's values, interval 1 first.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

POLICIES = ("bandit", "median_stopping", "truncation_selection")


@dataclass(frozen=True)
class Policy:
    """One configured ``early_termination`` policy (see :func:`parse_policy`)."""

    name: str
    evaluation_interval: int = 1
    delay_evaluation: int = 0
    slack_factor: float | None = None
    slack_amount: float | None = None
    truncation_percentage: int | None = None

    def applies(self, interval: int) -> bool:
        """Whether the policy is evaluated at ``interval``: every multiple of
        ``evaluation_interval`` that is at least ``delay_evaluation``."""
        due = interval % self.evaluation_interval == 0
        return due and interval >= max(1, self.delay_evaluation)

    def describe(self) -> str:
        """The policy and its settings, as a reason names them."""
        keys = ("slack_factor", "slack_amount", "truncation_percentage")
        settings = [f"{key}={getattr(self, key)}" for key in keys if getattr(self, key) is not None]
        return f"{self.name} policy ({', '.join(settings)})" if settings else f"{self.name} policy"


def parse_policy(where: str, section: dict[str, Any] | None) -> Policy | None:
    """The policy of a sweep's ``early_termination`` mapping (already checked against the
    schema); None without one. Raises :class:`ConfigError` naming a missing or
    conflicting setting."""
    if not section:
        return None
    name = section["policy"]
    factor, amount = section.get("slack_factor"), section.get("slack_amount")
    percentage = section.get("truncation_percentage")
    if name == "bandit" and (factor is None) == (amount is None):
        raise ConfigError(
            f"{where}: the bandit policy takes exactly one of slack_factor and slack_amount "
            f"(got {'both' if factor is not None else 'neither'})"
        )
    if name == "truncation_selection" and percentage is None:
        raise ConfigError(f"{where}: truncation_selection needs truncation_percentage (1 to 99)")
    extra = {
        "slack_factor": factor, "slack_amount": amount, "truncation_percentage": percentage,
    }  # fmt: skip
    allowed = {"bandit": ("slack_factor", "slack_amount"),
               "truncation_selection": ("truncation_percentage",)}.get(name, ())  # fmt: skip
    stray = [key for key, value in extra.items() if value is not None and key not in allowed]
    if stray:
        raise ConfigError(f"{where}: {stray[0]} is not a setting of the {name} policy")
    return Policy(
        name,
        evaluation_interval=section.get("evaluation_interval", 1),
        delay_evaluation=section.get("delay_evaluation", 0),
        slack_factor=factor,
        slack_amount=amount,
        truncation_percentage=percentage,
    )


def cancel_reason(
    policy: Policy, goal: str, history: list[float], others: list[list[float]]
) -> str | None:
    """Why the trial whose values are ``history`` is canceled at its latest interval, or
    None to let it go on. ``others`` are the histories of the sweep's other trials
    (running, finished or canceled); ``goal`` is ``maximize`` or ``minimize``."""
    interval = len(history)
    if interval == 0 or not policy.applies(interval):
        return None
    decide = {"bandit": _bandit, "median_stopping": _median_stopping,
              "truncation_selection": _truncation_selection}[policy.name]  # fmt: skip
    reason = decide(policy, goal == "maximize", history, others)
    if reason is None:
        return None
    return f"canceled by the {policy.describe()} at interval {interval}: {reason}"


def _worse(maximize: bool, value: float, than: float) -> bool:
    return value < than if maximize else value > than


def _bandit(
    policy: Policy, maximize: bool, history: list[float], others: list[list[float]]
) -> str | None:
    """Canceled when its value at interval N is worse than the best value any trial
    logged at interval N, loosened by the slack: for ``maximize``, below best / (1 +
    slack_factor) or best - slack_amount; for ``minimize``, above best * (1 +
    slack_factor) or best + slack_amount."""
    n = len(history)
    at_n = [h[n - 1] for h in others if len(h) >= n] + [history[-1]]
    best = max(at_n) if maximize else min(at_n)
    sign = 1 if maximize else -1
    if policy.slack_factor is not None:
        bound = best / (1 + policy.slack_factor) if maximize else best * (1 + policy.slack_factor)
    else:
        bound = best - sign * policy.slack_amount
    if not _worse(maximize, history[-1], bound):
        return None
    return (
        f"{history[-1]:g} is {'below' if maximize else 'above'} {bound:g}, the best value at "
        f"this interval ({best:g}) with its slack"
    )


def _median_stopping(
    policy: Policy, maximize: bool, history: list[float], others: list[list[float]]
) -> str | None:
    """Canceled when its best value over intervals 1..N is worse than the median, over
    the other trials that reached interval N, of their running averages over 1..N."""
    n = len(history)
    averages = [statistics.fmean(h[:n]) for h in others if len(h) >= n]
    if not averages:
        return None
    median = statistics.median(averages)
    best = max(history) if maximize else min(history)
    if not _worse(maximize, best, median):
        return None
    return (
        f"its best value {best:g} is worse than {median:g}, the median of the other "
        f"{len(averages)} trial(s)' averages over intervals 1..{n}"
    )


def _truncation_selection(
    policy: Policy, maximize: bool, history: list[float], others: list[list[float]]
) -> str | None:
    """Canceled when its value at interval N is among the lowest ``truncation_percentage``
    percent of the values all trials that reached interval N logged there (itself
    included): when fewer than floor(count * percentage / 100) of them are strictly
    worse than it."""
    n = len(history)
    at_n = [h[n - 1] for h in others if len(h) >= n]
    count = len(at_n) + 1
    cut = count * policy.truncation_percentage // 100
    worse = sum(_worse(maximize, value, history[-1]) for value in at_n)
    if worse >= cut:
        return None
    return (
        f"{history[-1]:g} is among the lowest {policy.truncation_percentage}% of the {count} "
        f"values logged at this interval (the {cut} lowest are canceled)"
    )
