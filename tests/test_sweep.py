"""Sweep planning and the choice of the best run, without Snakemake."""

from __future__ import annotations

import math

import pytest

from snakeyard.errors import ConfigError, SnakeyardError
from snakeyard.sweeps.plan import (
    check_resource_names,
    parse_expression,
    plan,
    resource_name,
    trial_id,
)
from snakeyard.sweeps.ranking import choose_best, rank

TUTORIAL = {
    "sampling": "random",
    "parameters": {
        "kernel": "choice(linear, rbf, poly, sigmoid)",
        "penalty": "choice(0.5, 1, 1.5)",
    },
    "max_total_runs": 12,
    "seed": 0,
}


def test_the_tutorial_space_gives_its_twelve_distinct_trials_in_a_seeded_order():
    trials = plan("s", TUTORIAL)
    assert len(trials) == 12
    assert len({t.id for t in trials}) == 12
    combinations = {(t.parameters["kernel"], t.parameters["penalty"]) for t in trials}
    assert combinations == {
        (k, p) for k in ("linear", "rbf", "poly", "sigmoid") for p in (0.5, 1, 1.5)
    }
    assert [t.id for t in plan("s", TUTORIAL)] == [t.id for t in trials]
    reseeded = plan("s", {**TUTORIAL, "seed": 1})
    assert [t.id for t in reseeded] != [t.id for t in trials]
    assert {t.id for t in reseeded} == {t.id for t in trials}


def test_a_larger_budget_keeps_the_earlier_trials_and_only_adds():
    space = {
        "sampling": "random",
        "parameters": {"C": "loguniform(0.001, 100)", "gamma": "uniform(0, 1)", "d": "randint(2, 5)"},
    }
    few = plan("s", {**space, "max_total_runs": 5})
    more = plan("s", {**space, "max_total_runs": 9})
    assert [t.id for t in more[:5]] == [t.id for t in few]
    assert len(more) == 9


def test_a_trial_id_depends_on_the_values_only():
    assert trial_id({"a": 1, "b": "x"}) == trial_id({"b": "x", "a": 1})
    assert trial_id({"a": 1}) != trial_id({"a": 1.0}) != trial_id({"a": True})
    grid = {"sampling": "grid", "parameters": {"k": ["a", "b"], "p": [1, 2]}}
    wider = {"sampling": "grid", "parameters": {"k": ["a", "b", "c"], "p": [1, 2]}}
    old, new = {t.id for t in plan("g", grid)}, {t.id for t in plan("g", wider)}
    assert old < new and len(new - old) == 2


def test_grid_order_and_budget():
    trials = plan("g", {"sampling": "grid", "parameters": {"k": "choice(a, b)", "p": [1, 2, 3]}})
    assert [tuple(t.parameters.values()) for t in trials] == [
        ("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("b", 3)
    ]  # fmt: skip
    assert [t.index for t in trials] == list(range(6))
    capped = plan("g", {"sampling": "grid", "max_total_runs": 4, "parameters": {"k": "choice(a, b)", "p": [1, 2, 3]}})
    assert [t.id for t in capped] == [t.id for t in trials[:4]]
    assert [t.parameters["q"] for t in plan("g", {"sampling": "grid", "parameters": {"q": "quniform(0, 1, 0.25)"}})] == [0, 0.25, 0.5, 0.75, 1.0]
    assert [t.parameters["n"] for t in plan("g", {"sampling": "grid", "parameters": {"n": "randint(2, 4)"}})] == [2, 3, 4]


@pytest.mark.parametrize(
    ("expression", "check"),
    [
        ("uniform(0.5, 2)", lambda v: 0.5 <= v <= 2),
        ("loguniform(1e-3, 10)", lambda v: 1e-3 <= v <= 10),
        ("quniform(1, 10, 2)", lambda v: v in (2, 4, 6, 8, 10) and isinstance(v, int)),
        ("randint(-3, 3)", lambda v: -3 <= v <= 3 and isinstance(v, int)),
        ("normal(0, 1)", lambda v: math.isfinite(v)),
        ("choice(true, 'l1-ratio', 3, -2.5)", lambda v: v in (True, "l1-ratio", 3, -2.5)),
    ],
)
def test_every_expression_draws_values_in_its_range(expression, check):
    trials = plan("s", {"sampling": "random", "max_total_runs": 20, "parameters": {"x": expression}})
    assert trials and all(check(t.parameters["x"]) for t in trials)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("uniform(2, 1)", "experiments.e.sweep.parameters.x: uniform() needs lo < hi, got 'uniform(2, 1)'"),
        ("loguniform(0, 1)", "needs 0 < lo"),
        ("normal(0, 0)", "needs sigma > 0"),
        ("quniform(0, 1, 0)", "needs q > 0"),
        ("randint(1.5, 3)", "randint(lo, hi) takes integers"),
        ("uniform(1)", "uniform() takes 2 numbers"),
        ("gaussian(0, 1)", "unknown expression 'gaussian'"),
        ("choice()", "has no values"),
        ("choice(a, a)", "repeats a value"),
        ("choice(l1-ratio)", "is not a value"),
        ("0.5", "is not a parameter expression"),
        ("uniform(0, 1", "is not a parameter expression"),
        ("uniform(a, 1)", "takes numbers"),
    ],
)
def test_invalid_expressions_name_the_parameter(expression, message):
    with pytest.raises(ConfigError) as error:
        parse_expression("experiments.e.sweep.parameters.x", expression)
    assert message in str(error.value)
    assert str(error.value).startswith("experiments.e.sweep.parameters.x: ")


def test_grid_refuses_continuous_and_random_needs_a_budget():
    with pytest.raises(ConfigError, match=r"experiments.e.sweep.parameters.c: grid sampling needs a finite set"):
        plan("experiments.e.sweep", {"sampling": "grid", "parameters": {"c": "uniform(0, 1)"}})
    with pytest.raises(ConfigError, match="random sampling needs max_total_runs"):
        plan("experiments.e.sweep", {"sampling": "random", "parameters": {"c": "uniform(0, 1)"}})


def record(trial: str, status: str = "Completed", **metrics) -> dict:
    return {
        "id": f"e_1_{trial}",
        "status": status,
        "error": None if status == "Completed" else "training script exited with code 1",
        "metrics": metrics,
        "trial": {"id": trial, "parameters": {"p": trial}},
        "duration_seconds": 1.0,
    }


def test_best_run_ties_go_to_the_smaller_trial_id_and_failures_are_left_out():
    records = [
        record("t1", Accuracy=0.9),
        record("t2", "Failed", Accuracy=0.99),
        record("t3", Accuracy=0.95),
        record("t4", Accuracy=[0.5, 0.95]),  # logged twice: the last value counts
        record("t5", loss=0.1),
    ]
    ranking = rank(records, "Accuracy", "maximize")
    assert [r["trial"]["id"] for r in ranking.ranked] == ["t3", "t4", "t1"]
    assert [(r["trial"]["id"], why) for r, why in ranking.left_out] == [
        ("t2", "training script exited with code 1"),
        ("t5", "logged no number under 'Accuracy'"),
    ]
    assert [r["trial"]["id"] for r in rank(records, "Accuracy", "minimize").ranked] == ["t1", "t3", "t4"]
    # whatever order the trials ran or were planned in
    assert [r["trial"]["id"] for r in rank(records[::-1], "Accuracy", "maximize").ranked] == ["t3", "t4", "t1"]
    summary, rows, best = choose_best("e", records, "Accuracy", "maximize", log=lambda _: None)
    assert best["trial"]["id"] == "t3" and summary["best"]["value"] == 0.95
    assert [row["status"] for row in rows] == ["Completed"] * 3 + ["Failed", "NoMetric"]
    assert [row["rank"] for row in rows] == [1, 2, 3, "", ""]


def test_no_usable_trial_is_an_error():
    with pytest.raises(SnakeyardError, match="none of its 2 trials can be chosen"):
        choose_best("e", [record("a", "Failed"), record("b", loss=1)], "Accuracy", "maximize", log=lambda _: None)


def test_a_sweep_whose_time_budget_canceled_every_trial_says_they_were_canceled():
    canceled = [dict(record(t, "Canceled"), error=None, canceled="the sweep's time budget ran out")
                for t in ("a", "b")]  # fmt: skip
    with pytest.raises(SnakeyardError) as raised:
        choose_best("e", canceled, "Accuracy", "maximize", log=lambda _: None)
    said = str(raised.value)
    assert "none of its 2 trials can be chosen (failed, canceled, or no number logged" in said
    assert said.endswith("trial a: the sweep's time budget ran out")


def test_each_sweep_counts_its_running_trials_with_a_resource_of_its_own():
    assert resource_name("sklearn-iris.v2") == "sweep_sklearn_iris_v2"
    check_resource_names(["a-b", "a_c"])
    with pytest.raises(ConfigError, match="experiments 'a-b' and 'a.b' both have a sweep"):
        check_resource_names(["a-b", "a.b"])
