"""Early termination policies: each cancels exactly what the hosted service's definition
says, checked against hand computations on logged values."""

from __future__ import annotations

import pytest

from snakeyard.errors import ConfigError
from snakeyard.sweeps.policies import Policy, cancel_reason, parse_policy


def bandit(**settings) -> Policy:
    return parse_policy("e", {"policy": "bandit", **settings})


def test_bandit_slack_factor_follows_the_hosted_example():
    # the service's example: best 0.8 at the interval, slack_factor 0.2 -> below 0.8 / 1.2
    # = 0.6667 is canceled
    policy = bandit(slack_factor=0.2, evaluation_interval=1)
    others = [[0.5, 0.8]]
    assert cancel_reason(policy, "maximize", [0.4, 0.66], others).startswith(
        "canceled by the bandit policy (slack_factor=0.2) at interval 2: 0.66 is below 0.666667"
    )
    assert cancel_reason(policy, "maximize", [0.4, 0.67], others) is None
    # minimize: above best * (1 + slack_factor) = 0.5 * 1.2 = 0.6
    assert cancel_reason(policy, "minimize", [0.61], [[0.5]]) is not None
    assert cancel_reason(policy, "minimize", [0.6], [[0.5]]) is None


def test_bandit_slack_amount_compares_at_the_same_interval_only():
    policy = bandit(slack_amount=0.1)
    # the best at interval 1 is 0.5 (a later 0.9 of the other trial does not count)
    assert cancel_reason(policy, "maximize", [0.41], [[0.5, 0.9]]) is None
    assert cancel_reason(policy, "maximize", [0.39], [[0.5, 0.9]]) is not None
    # the trial itself may be the best: never canceled then
    assert cancel_reason(policy, "maximize", [0.3], [[0.1]]) is None


def test_evaluation_interval_and_delay_decide_when_a_policy_applies():
    policy = bandit(slack_amount=0.1, evaluation_interval=2, delay_evaluation=3)
    # every multiple of 2 that is at least 3: 4, 6, 8 ...
    assert [n for n in range(1, 10) if policy.applies(n)] == [4, 6, 8]
    others = [[1.0] * 9]
    assert cancel_reason(policy, "maximize", [0.0] * 3, others) is None
    assert "at interval 4" in cancel_reason(policy, "maximize", [0.0] * 4, others)
    assert cancel_reason(policy, "maximize", [0.0] * 5, others) is None
    assert [n for n in range(1, 5) if bandit(slack_amount=1).applies(n)] == [1, 2, 3, 4]


def test_median_stopping_compares_the_best_value_with_the_median_of_running_averages():
    policy = parse_policy("e", {"policy": "median_stopping"})
    others = [[0.2, 0.4, 0.6], [0.5, 0.5, 0.5], [0.9, 0.9, 0.9], [0.1]]
    # at interval 3: averages over 1..3 of the trials that reached it: 0.4, 0.5, 0.9
    # (the last trial stopped at interval 1); median 0.5
    assert cancel_reason(policy, "maximize", [0.3, 0.45, 0.49], others).endswith(
        "its best value 0.49 is worse than 0.5, the median of the other 3 trial(s)' averages "
        "over intervals 1..3"
    )
    # its best value, not its last, is what counts
    assert cancel_reason(policy, "maximize", [0.55, 0.3, 0.2], others) is None
    # minimize: best is the smallest, worse is above the median
    assert cancel_reason(policy, "minimize", [0.6, 0.55, 0.52], others) is not None
    assert cancel_reason(policy, "minimize", [0.6, 0.5, 0.7], others) is None
    # nobody to compare with: never canceled
    assert cancel_reason(policy, "maximize", [0.0], []) is None


def test_truncation_selection_cancels_the_lowest_percentage_at_each_interval():
    policy = parse_policy("e", {"policy": "truncation_selection", "truncation_percentage": 40})
    others = [[0.9, 0.9], [0.8, 0.2], [0.7], [0.6, 0.6]]
    # interval 1: five values (0.9 0.8 0.7 0.6 and its own); floor(5 * 40 / 100) = 2 lowest
    assert cancel_reason(policy, "maximize", [0.65], others) is not None  # 2nd lowest
    assert cancel_reason(policy, "maximize", [0.75], others) is None  # 3rd lowest
    # interval 2: four trials reached it (0.9 0.2 0.6 and its own): floor(4 * 0.4) = 1
    assert cancel_reason(policy, "maximize", [0.9, 0.1], others).endswith(
        "0.1 is among the lowest 40% of the 4 values logged at this interval (the 1 lowest "
        "are canceled)"
    )
    assert cancel_reason(policy, "maximize", [0.9, 0.3], others) is None
    # too few values for the percentage to name one: nothing is canceled
    assert cancel_reason(policy, "maximize", [0.0], [[0.5]]) is None
    assert cancel_reason(policy, "minimize", [0.95], others) is not None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"policy": "bandit"}, "e: the bandit policy takes exactly one of slack_factor and slack_amount (got neither)"),
        ({"policy": "bandit", "slack_factor": 0.1, "slack_amount": 0.2}, "e: the bandit policy takes exactly one of slack_factor and slack_amount (got both)"),
        ({"policy": "truncation_selection"}, "e: truncation_selection needs truncation_percentage (1 to 99)"),
        ({"policy": "median_stopping", "slack_factor": 0.1}, "e: slack_factor is not a setting of the median_stopping policy"),
    ],
)
def test_a_policy_missing_or_mixing_settings_is_refused_in_one_line(section, message):
    with pytest.raises(ConfigError) as error:
        parse_policy("e", section)
    assert str(error.value) == message
