"""Bayesian sweep benchmarks: trials to a good model (Bayesian vs random), trial time saved
by each early termination policy, and the per-wave cost of asking and telling Optuna.

Run from the repository root (needs ``pip install -e '.[bayesian]'``)::

    python benchmarks/bayesian.py            # full size: a few minutes on 2 cores
    python benchmarks/bayesian.py --quick    # small sizes, a smoke check

Figures go to ``benchmarks/results/bayesian.json`` and ``benchmarks/results/bayesian.md``
and are printed at the end. The task is a linear classifier (``SGDClassifier``) on the
digits data set over a log-uniform regularisation strength and learning rate, trained in
this process: the figures are about the samplers and policies (snakeyard's own
``plan_wave`` and ``cancel_reason``, the code the workflow's jobs run), not Snakemake's
job overhead, which ``benchmarks/sweeps.py`` measures. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from core import environment_info, load, sec, write_report
from core import table_row as row

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from snakeyard.sweeps.plan import plan  # noqa: E402
from snakeyard.sweeps.policies import cancel_reason, parse_policy  # noqa: E402
from snakeyard.sweeps.study import plan_wave  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SPACE = {"alpha": "loguniform(1e-6, 100)", "eta0": "loguniform(1e-6, 1000)"}
FULL = {"seeds": 5, "trials": 60, "wave": 4, "policy_trials": 30, "epochs": 20}
QUICK = {"seeds": 2, "trials": 16, "wave": 4, "policy_trials": 8, "epochs": 5}
POLICIES = {
    "bandit (slack_factor 0.1)": {"policy": "bandit", "slack_factor": 0.1},
    "median_stopping (delay 5)": {"policy": "median_stopping", "delay_evaluation": 5},
    "truncation_selection (20 %, delay 5)": {"policy": "truncation_selection",
                                             "truncation_percentage": 20, "delay_evaluation": 5},
}  # fmt: skip


def digits() -> tuple[Any, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0)


def accuracy_curve(data: tuple[Any, ...], parameters: dict[str, Any], epochs: int) -> list[float]:
    """Test accuracy after each epoch of training with these parameters."""
    import numpy as np
    from sklearn.linear_model import SGDClassifier

    X_train, X_test, y_train, y_test = data
    model = SGDClassifier(alpha=parameters["alpha"], learning_rate="constant",
                          eta0=parameters["eta0"], random_state=0)  # fmt: skip
    classes = np.unique(y_train)
    curve = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(epochs):
            model.partial_fit(X_train, y_train, classes=classes)
            curve.append(float(model.score(X_test, y_test)))
    return curve


def sampler_figures(data: tuple[Any, ...], sizes: dict[str, int], scratch: Path) -> dict[str, Any]:
    """Trials until 99 % of the best known accuracy, per seed, Bayesian and random; and
    the time of each wave's planning (tell the last wave, ask the next)."""
    epochs, budget, wave_size = 5, sizes["trials"], sizes["wave"]
    runs: dict[str, list[list[float]]] = {"bayesian": [], "random": []}
    wave_seconds: list[list[float]] = []
    for seed in range(sizes["seeds"]):
        random_trials = plan("s", {"sampling": "random", "parameters": SPACE,
                                   "max_total_runs": budget, "seed": seed})  # fmt: skip
        runs["random"].append(
            [accuracy_curve(data, t.parameters, epochs)[-1] for t in random_trials]
        )
        settings = {"parameters": SPACE, "sampler": "tpe", "seed": seed, "goal": "maximize",
                    "primary_metric": "accuracy", "max_concurrent_runs": wave_size}  # fmt: skip
        records, scores, timings = [], [], []
        for wave in range(-(-budget // wave_size)):
            started = time.perf_counter()
            planned = plan_wave(scratch / f"study-{seed}", settings, wave,
                                min(wave_size, budget - wave * wave_size), records,
                                log=lambda _: None)  # fmt: skip
            timings.append(time.perf_counter() - started)
            for trial in planned["trials"]:
                score = accuracy_curve(data, trial["parameters"], epochs)[-1]
                scores.append(score)
                records.append({"trial": {"id": trial["id"]}, "status": "Completed",
                                "metrics": {"accuracy": score}})  # fmt: skip
        runs["bayesian"].append(scores)
        wave_seconds.append(timings)
    best = max(max(scores) for each in runs.values() for scores in each)
    target = 0.99 * best

    def trials_to_target(scores: list[float]) -> int | None:
        return next((i + 1 for i, score in enumerate(scores) if score >= target), None)

    reached = {name: [trials_to_target(s) for s in each] for name, each in runs.items()}
    # a seed that never got there counts as one trial beyond the budget
    medians = {name: statistics.median(n or budget + 1 for n in counts)
               for name, counts in reached.items()}  # fmt: skip
    first = [timings[0] for timings in wave_seconds]
    later = [t for timings in wave_seconds for t in timings[1:]]
    last = [timings[-1] for timings in wave_seconds]
    return {
        "best_known_accuracy": best,
        "target": target,
        "trials_to_target": reached,
        "median_trials_to_target": medians,
        "wave_planning_s": {
            "first_wave_median": statistics.median(first),
            "later_waves_median": statistics.median(later) if later else None,
            "last_wave_median": statistics.median(last),
            "waves": len(wave_seconds[0]),
            "wave_size": wave_size,
        },
    }


def policy_figures(data: tuple[Any, ...], sizes: dict[str, int]) -> dict[str, Any]:
    """Total training time with and without each policy over the same random trials,
    ``wave`` of them running side by side epoch by epoch, and the best accuracy found."""
    trials = plan("s", {"sampling": "random", "parameters": SPACE,
                        "max_total_runs": sizes["policy_trials"], "seed": 0})  # fmt: skip
    epochs, wave = sizes["epochs"], sizes["wave"]
    started = time.perf_counter()
    curves = [accuracy_curve(data, t.parameters, epochs) for t in trials]
    full_s = time.perf_counter() - started
    per_epoch = full_s / (len(trials) * epochs)
    figures = {"trials": len(trials), "epochs": epochs, "full_training_s": full_s,
               "best_without_policy": max(c[-1] for c in curves), "policies": {}}  # fmt: skip
    for label, section in POLICIES.items():
        policy = parse_policy("bench", section)
        histories: list[list[float]] = []
        canceled = 0
        for start in range(0, len(curves), wave):
            group = list(range(start, min(start + wave, len(curves))))
            histories += [[] for _ in group]
            active = set(group)
            for epoch in range(epochs):
                for i in sorted(active):
                    histories[i].append(curves[i][epoch])
                    others = [h for j, h in enumerate(histories) if j != i]
                    if cancel_reason(policy, "maximize", histories[i], others):
                        active.discard(i)
                        canceled += 1
        trained = sum(len(h) for h in histories)
        finished = [h[-1] for h in histories if len(h) == epochs]
        figures["policies"][label] = {
            "canceled": canceled,
            "epochs_trained": trained,
            "time_s": trained * per_epoch,
            "saved_fraction": 1 - trained / (len(curves) * epochs),
            "best_accuracy": max(finished) if finished else None,
        }
    return figures


def markdown(report: dict[str, Any]) -> str:
    env, s, p = report["environment"], report["samplers"], report["policies"]
    waves, medians = s["wave_planning_s"], s["median_trials_to_target"]
    lines = [
        f"# snakeyard Bayesian sweep benchmarks{' (quick)' if report['quick'] else ''}",
        "",
        f"{env['date_utc']}, Python {env['python']}, {env['cpus']} CPUs, commit "
        f"{env['git_commit']}{' (with uncommitted changes)' if env.get('git_dirty') else ''}. "
        "Task: SGDClassifier on digits, alpha and eta0 log-uniform.",
        "",
        row("figure", "bayesian", "random", "ratio", ""),
        row("---", "---:", "---:", "---:", ""),
        row(
            f"median over {report['sizes']['seeds']} seeds of the trials to 99 % of the best "
            f"known accuracy ({s['best_known_accuracy']:.4f}), budget {report['sizes']['trials']}",
            f"{medians['bayesian']:g}",
            f"{medians['random']:g}",
            f"{medians['bayesian'] / medians['random']:.2f}",
            "",
        ),
        "",
        f"Trials to the target per seed: bayesian {s['trials_to_target']['bayesian']}, "
        f"random {s['trials_to_target']['random']} (None: not reached within the budget).",
        "",
        f"Planning a wave of {waves['wave_size']} (tell the wave before, ask this one; "
        f"{waves['waves']} waves): first wave {sec(waves['first_wave_median'])} (Optuna's "
        f"import and the study's creation), later waves {sec(waves['later_waves_median'])}, "
        f"last wave {sec(waves['last_wave_median'])} (medians over seeds).",
        "",
        f"Early termination over the same {p['trials']} random trials of {p['epochs']} epochs, "
        f"{report['sizes']['wave']} side by side; without a policy: "
        f"{sec(p['full_training_s'])} of training, best accuracy {p['best_without_policy']:.4f}.",
        "",
        row("policy", "trials canceled", "training time", "saved", "best accuracy"),
        row("---", "---:", "---:", "---:", "---:"),
    ]
    for label, fig in p["policies"].items():
        best = "-" if fig["best_accuracy"] is None else f"{fig['best_accuracy']:.4f}"
        lines.append(row(label, str(fig["canceled"]), sec(fig["time_s"]),
                         f"{100 * fig['saved_fraction']:.0f} %", best))  # fmt: skip
    lines += [
        "",
        f"Whole benchmark run: {sec(report['total_s'])}. Load average (1, 5, 15 min) at start "
        f"{load(env['load_average_start'])}, at end {load(env.get('load_average_end'))}: "
        "a load above the CPU count means other work competed with the benchmark.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="snakeyard-bayesian-bench-"))
    try:
        report: dict[str, Any] = {"quick": args.quick, "sizes": sizes,
                                  "environment": environment_info()}  # fmt: skip
        data = digits()
        report["samplers"] = sampler_figures(data, sizes, scratch)
        report["policies"] = policy_figures(data, sizes)
        report["environment"]["load_average_end"] = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report["total_s"] = time.perf_counter() - started
    write_report(report, args.out, "bayesian", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
