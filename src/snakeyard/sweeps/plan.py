"""Sweep plans: parameter expressions, their sampling, and the trials of a sweep.

A sweep is planned when the workflow starts, before any job runs: every parameter
expression is parsed and checked, and the trials are listed in a fixed order (grid
order, or the draws of a seeded random generator). Bayesian sampling is checked here
too, but its trials are proposed wave by wave as the sweep runs (:mod:`.study`). A
trial's id is a hash of its parameter values, so the same values always make the same
trial, whatever else changes in the plan.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import itertools
import json
import math
import random
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .policies import parse_policy

SAMPLINGS = ("grid", "random", "bayesian")
# expressions Bayesian sampling takes: bounded ones (Optuna's distributions)
BAYESIAN_KINDS = ("choice", "uniform", "loguniform", "quniform", "randint")
GOALS = ("maximize", "minimize")
EXPRESSIONS = (
    "choice(a, b, ...) or a YAML list, uniform(lo, hi), loguniform(lo, hi), "
    "quniform(lo, hi, q), randint(lo, hi), normal(mu, sigma)"
)
# significant digits kept of a continuous draw: readable arguments, stable trial ids
DIGITS = 6
# random sampling gives up after this many draws per wanted trial (finite spaces only
# run short of new values when nearly exhausted)
DRAWS_PER_TRIAL = 30


@dataclass(frozen=True)
class Distribution:
    """One parameter's expression: its kind and its arguments."""

    kind: str
    args: tuple[Any, ...]

    def values(self) -> list[Any] | range | None:
        """Every value the parameter can take, in order; None for a continuous one."""
        if self.kind == "choice":
            return list(self.args)
        if self.kind == "randint":
            low, high = self.args
            return range(low, high + 1)
        if self.kind == "quniform":
            q = self.args[2]
            return [_quantum(k, q) for k in self._multiples()]
        return None

    def count(self) -> int | None:
        """How many values the parameter can take; None for a continuous one."""
        if self.kind == "choice":
            return len(self.args)
        if self.kind == "randint":
            return self.args[1] - self.args[0] + 1
        if self.kind == "quniform":
            return len(self._multiples())
        return None

    def _multiples(self) -> range:
        """The k of quniform's values k * q (the tolerance keeps 0.3 in (0, 0.3, 0.1))."""
        low, high, q = self.args
        return range(math.ceil(low / q - 1e-9), math.floor(high / q + 1e-9) + 1)

    def sample(self, rng: random.Random) -> Any:
        """One value drawn with ``rng``."""
        kind, args = self.kind, self.args
        if kind == "choice":
            return args[rng.randrange(len(args))]
        if kind == "randint":
            return rng.randint(*args)
        if kind == "uniform":
            return _round(rng.uniform(*args))
        if kind == "loguniform":
            low, high = args
            return _round(math.exp(rng.uniform(math.log(low), math.log(high))))
        if kind == "quniform":
            multiples = self._multiples()
            return _quantum(multiples[rng.randrange(len(multiples))], args[2])
        if kind == "normal":
            return _round(rng.normalvariate(*args))
        raise AssertionError(kind)  # parse_expression admits nothing else


def _round(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def _quantum(k: int, q: int | float) -> int | float:
    """``k * q``: an integer when ``q`` is one, else a float without rounding noise."""
    return k * q if isinstance(q, int) else round(k * q, 10)


ARITY = {"uniform": 2, "loguniform": 2, "quniform": 3, "randint": 2, "normal": 2}


def parse_expression(where: str, expression: Any) -> Distribution:
    """Parse one parameter's expression; ``where`` names it in error messages."""
    if isinstance(expression, list):
        return _checked(where, "choice", tuple(expression), expression)
    not_one = f"{where}: {expression!r} is not a parameter expression; use {EXPRESSIONS}"
    if not isinstance(expression, str):
        raise ConfigError(not_one)
    try:
        call = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        call = None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and not call.keywords):
        raise ConfigError(not_one)
    kind = call.func.id
    if kind != "choice" and kind not in ARITY:
        raise ConfigError(
            f"{where}: unknown expression {kind!r} in {expression!r}; use {EXPRESSIONS}"
        )
    args = tuple(_literal(where, expression, node) for node in call.args)
    return _checked(where, kind, args, expression)


def _literal(where: str, expression: str, node: ast.expr) -> Any:
    """A number, a quoted string, true/false, or a bare word (a string)."""
    if isinstance(node, ast.Name):
        return {"true": True, "false": False}.get(node.id.lower(), node.id)
    try:
        value = ast.literal_eval(node)
    except ValueError:
        value = None
    if isinstance(value, (str, int, float, bool)):
        return value
    text = ast.get_source_segment(expression.strip(), node) or "?"
    raise ConfigError(
        f"{where}: {text!r} in {expression!r} is not a value; use numbers, true/false, "
        "words or quoted strings ('l1-ratio')"
    )


def _checked(where: str, kind: str, args: tuple[Any, ...], expression: Any) -> Distribution:
    shown = repr(expression)
    if kind == "choice":
        if not args:
            raise ConfigError(f"{where}: {shown} has no values")
        bad = [a for a in args if not isinstance(a, (str, int, float, bool))]
        if bad:
            raise ConfigError(f"{where}: {bad[0]!r} in {shown} is not a string, number or boolean")
        if len({_key(a) for a in args}) != len(args):
            raise ConfigError(f"{where}: {shown} repeats a value")
        return Distribution(kind, args)
    if len(args) != ARITY[kind]:
        raise ConfigError(f"{where}: {kind}() takes {ARITY[kind]} numbers, got {shown}")
    if not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise ConfigError(f"{where}: {kind}() takes numbers, got {shown}")
    if not all(math.isfinite(a) for a in args):
        raise ConfigError(f"{where}: {kind}() takes finite numbers, got {shown}")
    if kind == "normal":
        if args[1] <= 0:
            raise ConfigError(f"{where}: normal(mu, sigma) needs sigma > 0, got {shown}")
        return Distribution(kind, args)
    low, high = args[0], args[1]
    if kind == "randint" and not all(isinstance(a, int) for a in args):
        raise ConfigError(f"{where}: randint(lo, hi) takes integers, got {shown}")
    if low > high or (low == high and kind != "randint"):
        raise ConfigError(f"{where}: {kind}() needs lo < hi, got {shown}")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{where}: loguniform(lo, hi) needs 0 < lo, got {shown}")
    if kind == "quniform":
        if args[2] <= 0:
            raise ConfigError(f"{where}: quniform(lo, hi, q) needs q > 0, got {shown}")
        if not Distribution(kind, args)._multiples():
            raise ConfigError(f"{where}: no multiple of q lies between lo and hi in {shown}")
    return Distribution(kind, args)


def _key(value: Any) -> str:
    """What tells two values apart in a trial's identity (1, 1.0 and true differ)."""
    return json.dumps(value)


@dataclass(frozen=True)
class Trial:
    """One set of parameter values of a sweep; ``index`` is its place in the plan."""

    id: str
    index: int
    parameters: dict[str, Any]


def trial_id(parameters: dict[str, Any]) -> str:
    """A trial's id: 12 hex digits of the sha256 of its parameter names and values."""
    text = json.dumps(parameters, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def plan(where: str, sweep: dict[str, Any]) -> list[Trial]:
    """The trials of a sweep configuration, in their fixed order.

    ``sweep`` has the keys of the configuration's ``sweep:`` mapping (defaults filled
    in); ``where`` names it in error messages (``experiments.NAME.sweep``).
    """
    distributions = {
        name: parse_expression(f"{where}.parameters.{name}", expression)
        for name, expression in sweep["parameters"].items()
    }
    sampling, limit = sweep.get("sampling", "random"), sweep.get("max_total_runs")
    if sampling == "grid":
        grids = {}
        for name, distribution in distributions.items():
            grids[name] = distribution.values()
            if grids[name] is None:
                raise ConfigError(
                    f"{where}.parameters.{name}: grid sampling needs a finite set of values, "
                    f"not {distribution.kind}(); use choice(), a list, randint() or quniform(), "
                    "or sampling: random"
                )
        # a huge grid with a small budget is never listed whole
        combinations = itertools.islice(itertools.product(*grids.values()), limit)
        chosen = [dict(zip(grids, values, strict=True)) for values in combinations]
    elif sampling == "random":
        if not limit:
            raise ConfigError(f"{where}: random sampling needs max_total_runs")
        chosen = _draw(distributions, limit, random.Random(sweep.get("seed", 0)))
    elif sampling == "bayesian":
        _check_bayesian(where, sweep, distributions)
        chosen = []  # proposed wave by wave while the sweep runs (sweeps/study.py)
    else:
        raise ConfigError(f"{where}.sampling: {sampling!r} is not one of {', '.join(SAMPLINGS)}")
    if parse_policy(f"{where}.early_termination", sweep.get("early_termination")) or (
        sampling == "bayesian"
    ):
        _check_optuna(where)
    return [Trial(trial_id(p), i, p) for i, p in enumerate(chosen)]


def _check_optuna(where: str) -> None:
    """Bayesian sampling and early termination run Optuna in their jobs: say so before
    any job runs when it is missing (found, not imported: the workflow starts fast)."""
    if importlib.util.find_spec("optuna") is None:
        raise ConfigError(
            f"{where}: bayesian sampling and early_termination need Optuna, which this "
            "Python lacks: pip install 'snakeyard[bayesian]'"
        )


def _check_bayesian(
    where: str, sweep: dict[str, Any], distributions: dict[str, Distribution]
) -> None:
    """Bayesian sampling needs bounded expressions, a budget and a wave size."""
    for name, distribution in distributions.items():
        if distribution.kind not in BAYESIAN_KINDS:
            raise ConfigError(
                f"{where}.parameters.{name}: bayesian sampling needs bounded values, not "
                f"{distribution.kind}(); use {', '.join(k + '()' for k in BAYESIAN_KINDS)} "
                "or a list"
            )
    for key, meaning in (("max_total_runs", "its number of trials"),
                         ("max_concurrent_runs", "the number of trials proposed at a time")):
        if not sweep.get(key):
            raise ConfigError(f"{where}: bayesian sampling needs {key} ({meaning})")
    if sweep.get("cluster_group", 1) > 1:
        raise ConfigError(
            f"{where}.cluster_group: {sweep['cluster_group']} is for grid and random "
            "sampling; a bayesian sweep proposes max_concurrent_runs trials at a time, each "
            "its own cluster job (leave cluster_group out, or 1)"
        )


def _draw(
    distributions: dict[str, Distribution], limit: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Up to ``limit`` distinct draws; the first N never depend on ``limit``."""
    counts = [d.count() for d in distributions.values()]
    if all(count is not None for count in counts):
        limit = min(limit, math.prod(counts))
    chosen, seen = [], set()
    for _ in range(DRAWS_PER_TRIAL * limit + 100):
        if len(chosen) == limit:
            break
        parameters = {name: d.sample(rng) for name, d in distributions.items()}
        identity = trial_id(parameters)
        if identity not in seen:
            seen.add(identity)
            chosen.append(parameters)
    return chosen


def resource_name(experiment: str) -> str:
    """The Snakemake resource that counts an experiment's running trials."""
    return "sweep_" + re.sub(r"[^A-Za-z0-9_]", "_", experiment)


def check_resource_names(experiments: list[str]) -> None:
    """Refuse two sweeps whose running trials would be counted by one resource."""
    seen: dict[str, str] = {}
    for experiment in experiments:
        other = seen.setdefault(resource_name(experiment), experiment)
        if other != experiment:
            raise ConfigError(
                f"experiments {other!r} and {experiment!r} both have a sweep, and their "
                f"running trials would share the resource {resource_name(experiment)!r}; "
                "rename one of them"
            )


def trial_arguments(
    arguments: dict[str, Any] | list[Any], parameters: dict[str, Any]
) -> dict[str, Any] | list[Any]:
    """The experiment's arguments with a trial's values in place (new ones at the end).

    In a list of words (the hosted ``ScriptRunConfig`` form), the word after a
    parameter's flag is its value, as HyperDrive passes it.
    """
    if isinstance(arguments, dict):
        return {**arguments, **parameters}
    from ..training.runner import flag

    words = list(arguments)
    for name, value in parameters.items():
        option = flag(name)
        if option in words[:-1]:
            words[words.index(option) + 1] = value
        else:
            words += [option, value]
    return words


# ----------------------------------------------------------------- the best run
