"""The sweep's Optuna study: Bayesian proposals wave by wave, and the primary metric's
values that early termination policies compare.

The study lives in ``results/<experiment>/study/journal.log``, next to the sweep's
records: an Optuna ``JournalStorage`` on a ``JournalFileBackend``, an append-only log
of operations that every process replays. Appends take Optuna's
``JournalFileSymlinkLock`` (a symbolic link created next to the file: ``symlink()`` is
atomic on NFS version 2 and later, unlike ``fcntl`` locks), then write and ``fsync``;
readers open the file again on every read, which NFS's close-to-open consistency keeps
current, and skip a last line not yet complete. So trials on several nodes that share
the folder can report into one study (docs/sweeps.md, "The study").

Optuna is imported only here, and only by the jobs that need it: a wave's planning, and
a trial whose sweep has an early termination policy (``pip install
'snakeyard[bayesian]'``). Plain sweeps and runs never import it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SnakeyardError
from ..records import RunRecord
from .plan import DRAWS_PER_TRIAL, Distribution, _quantum, _round, parse_expression, trial_id
from .ranking import metric_value

JOURNAL_FILE = "journal.log"
# samplers by name: Optuna's classes; TPE unless the sweep names another
SAMPLERS = {
    "tpe": "TPESampler",
    "gp": "GPSampler",
    "cmaes": "CmaEsSampler",
    "qmc": "QMCSampler",
    "random": "RandomSampler",
}
DEFAULT_SAMPLER = "tpe"
# the study of grid and random sweeps: only the policies' values go there
PLAIN_STUDY = "trials"
# the user attributes that tie an Optuna trial to a snakeyard trial
TRIAL_ATTRIBUTE = "snakeyard_trial"
WAVE_ATTRIBUTE = "snakeyard_wave"
OPTUNA_MISSING = (
    "Bayesian sampling and early termination need Optuna: pip install 'snakeyard[bayesian]'"
)


def study_name(sweep: dict[str, Any]) -> str:
    """The name of a sweep's study: for ``bayesian``, made of everything its proposals
    depend on (expressions, sampler, seed, metric, goal, wave size), so that changing
    one of them starts a fresh study; ``trials`` for grid and random sweeps."""
    if sweep.get("sampling") != "bayesian":
        return PLAIN_STUDY
    keys = ("parameters", "sampler", "seed", "primary_metric", "goal", "max_concurrent_runs")
    text = json.dumps({key: sweep.get(key) for key in keys}, sort_keys=True)
    return "bayesian-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def _optuna() -> Any:
    """The optuna package, quiet; a :class:`SnakeyardError` saying how to install it."""
    try:
        import optuna
    except ImportError as error:
        raise SnakeyardError(OPTUNA_MISSING) from error
    optuna.logging.set_verbosity(logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def storage(folder: Path) -> Any:
    """The journal storage in ``folder`` (created if need be), with the symbolic-link
    lock that holds across machines on NFS."""
    _optuna()
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock, JournalStorage

    folder.mkdir(parents=True, exist_ok=True)
    path = str(folder / JOURNAL_FILE)
    return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileSymlinkLock(path)))


def open_study(folder: Path, name: str, goal: str, sampler: Any = None) -> Any:
    """The study ``name`` in ``folder``, created on first use."""
    optuna = _optuna()
    return optuna.create_study(
        storage=storage(folder), study_name=name, direction=goal, sampler=sampler,
        load_if_exists=True,
    )  # fmt: skip


def make_sampler(name: str, seed: int, wave: int) -> Any:
    """Optuna's sampler ``name``, seeded for one wave: each wave gets its own seed
    (``seed * 100003 + wave``), so a wave's random start-up draws differ from the last
    wave's while the whole sweep stays reproducible."""
    optuna = _optuna()
    if name not in SAMPLERS:
        raise SnakeyardError(f"unknown sampler {name!r}: use one of {', '.join(SAMPLERS)}")
    try:
        return getattr(optuna.samplers, SAMPLERS[name])(seed=seed * 100003 + wave)
    except ImportError as error:  # cmaes, gp: packages of their own
        raise SnakeyardError(
            f"the {name} sampler needs a package Optuna lacks here: {error}"
        ) from None


def distributions(expressions: dict[str, Any]) -> dict[str, Any]:
    """Optuna distributions for the sweep's parameter expressions (``quniform`` as the
    integer multiple k of its ``q``)."""
    _optuna()
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    found = {}
    for name, expression in expressions.items():
        d = parse_expression(name, expression)
        if d.kind == "choice":
            found[name] = CategoricalDistribution(list(d.args))
        elif d.kind in ("uniform", "loguniform"):
            found[name] = FloatDistribution(*d.args, log=d.kind == "loguniform")
        elif d.kind == "randint":
            found[name] = IntDistribution(*d.args)
        elif d.kind == "quniform":
            multiples = d._multiples()
            found[name] = IntDistribution(multiples[0], multiples[-1])
        else:  # plan.plan refuses the others for bayesian sampling
            raise SnakeyardError(f"{name}: {d.kind}() cannot be sampled by bayesian sampling")
    return found


def trial_values(expressions: dict[str, Any], proposed: dict[str, Any]) -> dict[str, Any]:
    """What the script gets for Optuna's proposal: reals kept to 6 significant digits,
    like random draws, and quniform's k as k * q."""
    values = {}
    for name, expression in expressions.items():
        d: Distribution = parse_expression(name, expression)
        value = proposed[name]
        if d.kind in ("uniform", "loguniform"):
            value = _round(value)
        elif d.kind == "quniform":
            value = _quantum(value, d.args[2])
        values[name] = value
    return values


def _ours(trials: list[Any]) -> dict[str, Any]:
    """The study's trials by snakeyard trial id (the first one of each id)."""
    found: dict[str, Any] = {}
    for trial in trials:
        identity = trial.user_attrs.get(TRIAL_ATTRIBUTE)
        if identity is not None:
            found.setdefault(identity, trial)
    return found


def tell_finished(study: Any, records: list[RunRecord], metric: str) -> int:
    """Tell the study how each trial in ``records`` ended; return how many it learnt.

    A trial is told once: one the study already knows as finished (its run was forced
    again, say) is not told twice. Completed with a number under ``metric``: that value;
    Canceled: pruned (Optuna then keeps its last reported value); anything else: failed.
    """
    optuna = _optuna()
    states = optuna.trial.TrialState
    ours = _ours(study.get_trials(deepcopy=False))
    told = 0
    for record in records:
        trial = ours.get((record.get("trial") or {}).get("id"))
        if trial is None or trial.state != states.RUNNING:
            continue
        value = metric_value(record, metric) if record.get("status") == "Completed" else None
        if value is not None:
            study.tell(trial.number, value)
        elif record.get("status") == "Canceled" and record.get("id"):
            study.tell(trial.number, state=states.PRUNED)
        else:
            study.tell(trial.number, state=states.FAIL)
        told += 1
    return told


def plan_wave(
    folder: Path,
    settings: dict[str, Any],
    wave: int,
    count: int,
    records: list[RunRecord],
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The trials of wave ``wave``: ``count`` proposals of the study, after it has
    learnt how every trial in ``records`` (the waves before) ended.

    Planning a wave again returns the trials it proposed before (and asks only for
    those missing when ``count`` grew), so a wave is proposed once. A proposal whose
    values make a trial the sweep has already (Optuna may repeat itself over finite
    values) is recorded as failed and asked again, up to a limit; a wave that comes out
    short says ``exhausted``.
    """
    optuna = _optuna()
    expressions = settings["parameters"]
    space = distributions(expressions)
    sampler_name = settings.get("sampler") or DEFAULT_SAMPLER
    sampler = make_sampler(sampler_name, settings.get("seed", 0), wave)
    name = study_name({**settings, "sampling": "bayesian"})
    study = open_study(folder, name, settings["goal"], sampler)
    told = tell_finished(study, records, settings["primary_metric"])
    trials = study.get_trials(deepcopy=False)
    known = set(_ours(trials))
    planned = [
        {"id": t.user_attrs[TRIAL_ATTRIBUTE], "number": t.number,
         "parameters": trial_values(expressions, t.params)}
        for t in trials if t.user_attrs.get(WAVE_ATTRIBUTE) == wave
    ][:count]  # fmt: skip
    again = len(planned)
    for _ in range(DRAWS_PER_TRIAL * count):
        if len(planned) >= count:
            break
        trial = study.ask(space)
        values = trial_values(expressions, trial.params)
        identity = trial_id(values)
        if identity in known:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        known.add(identity)
        trial.set_user_attr(TRIAL_ATTRIBUTE, identity)
        trial.set_user_attr(WAVE_ATTRIBUTE, wave)
        planned.append({"id": identity, "number": trial.number, "parameters": values})
    log(
        f"wave {wave} of study {name}: {len(planned)} trial(s) ({again} proposed before), "
        f"after telling it {told} finished trial(s)"
    )
    return {"wave": wave, "study": name, "trials": planned, "exhausted": len(planned) < count}


class Reports:
    """One trial's values of the primary metric in the study, and the other trials'.

    The values go into the trial's own Optuna trial (found by its snakeyard trial id,
    created for grid and random sweeps), as intermediate values at steps 1, 2, ...; a
    trial the study knows as finished already (a forced re-run) keeps its new values to
    itself, so it is not counted twice.
    """

    def __init__(self, folder: Path, name: str, goal: str, identity: str):
        optuna = _optuna()
        self._states = optuna.trial.TrialState
        self._storage = storage(folder)
        self._study_id = open_study(folder, name, goal)._study_id
        self._identity = identity
        mine = _ours(self._storage.get_all_trials(self._study_id, deepcopy=False)).get(identity)
        if mine is None:
            self._trial_id: int | None = self._storage.create_new_trial(self._study_id)
            self._storage.set_trial_user_attr(self._trial_id, TRIAL_ATTRIBUTE, identity)
        elif mine.state == self._states.RUNNING:
            self._trial_id = mine._trial_id
        else:
            self._trial_id = None

    def add(self, interval: int, value: float) -> None:
        """Store the trial's value at ``interval``."""
        if self._trial_id is not None:
            self._storage.set_trial_intermediate_value(self._trial_id, interval, value)

    def others(self) -> list[list[float]]:
        """The other trials' values, each from interval 1 on (failed trials left out)."""
        histories = []
        for trial in self._storage.get_all_trials(self._study_id, deepcopy=False):
            if trial.user_attrs.get(TRIAL_ATTRIBUTE) == self._identity:
                continue
            if trial.state == self._states.FAIL or not trial.intermediate_values:
                continue
            steps = trial.intermediate_values
            values = []
            for step in range(1, len(steps) + 1):
                if step not in steps:
                    break
                values.append(float(steps[step]))
            histories.append(values)
        return histories
