"""Durability benchmarks: what flushing to stable storage costs a registration, and what
sweeping dead writers' temporaries costs a publication.

Run from the repository root::

    python benchmarks/durability.py            # about a minute on 2 cores
    python benchmarks/durability.py --quick    # fewer rounds, a smoke check

Figures go to ``benchmarks/results/durability.json`` and ``durability.md`` and are
printed at the end. Everything runs in a temporary folder. "Without fsync" turns off
``snakeyard.files._DURABLE`` in this process only: the same code, minus the fsync calls.
Nothing here asserts on time. See ``benchmarks/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import snakeyard.files as files
from core import (
    RESULTS,
    environment_info,
    load,
    ms,
    sec,
    summary,
    table_row,
    write_artifact,
    write_report,
)
from snakeyard.files import fsync_tree, temporary_name
from snakeyard.registry.registry import Registry

FULL = {
    "small_rounds": 50,  # registrations of a 100-byte model, each way
    "large_rounds": 5,  # registrations of a 50 MB model, each way
    "large_bytes": 50 << 20,
    "dataset_rounds": 20,  # uploads of a data set of 10 files of 10 KiB, each way
    "names": 1000,  # model names in the registry the sweep is measured on
    "sweep_rounds": 50,
    "temporaries": 100,  # temporaries present for the second and third sweep figures
    "tree_rounds": 3,  # flushes of a fresh copy of the installed scikit-learn package
}
QUICK = {
    "small_rounds": 10,
    "large_rounds": 2,
    "large_bytes": 50 << 20,
    "dataset_rounds": 5,
    "names": 100,
    "sweep_rounds": 10,
    "temporaries": 20,
    "tree_rounds": 1,
}
MODES = {"with fsync": True, "without fsync": False}


def sync() -> None:
    """Flush dirty pages outside the timed part, so one round's writes do not slow the next."""
    os.sync()


def timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def paired(rounds: int, make: Callable[[str, int], Callable[[], Any]]) -> dict[str, Any]:
    """Time ``make(mode, i)()`` with and without fsync, interleaved round by round (the
    order alternating), so that a change of machine load affects both alike."""
    samples: dict[str, list[float]] = {mode: [] for mode in MODES}
    for i in range(rounds):
        order = list(MODES) if i % 2 == 0 else list(reversed(MODES))
        for mode in order:
            call = make(mode, i)
            sync()
            files._DURABLE = MODES[mode]
            try:
                samples[mode].append(timed(call))
            finally:
                files._DURABLE = True
    result = {mode: summary(values) for mode, values in samples.items()}
    result["added_s"] = result["with fsync"]["median_s"] - result["without fsync"]["median_s"]
    return result


# ----------------------------------------------------------------- registrations
def registration_figures(scratch: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """Registrations of a small model, a 50 MB model and a small data set, both ways."""
    registries = {mode: Registry(scratch / mode.replace(" ", "-")) for mode in MODES}
    small = scratch / "small.bin"
    large = scratch / "large.bin"
    with open(large, "wb") as handle:
        for _ in range(sizes["large_bytes"] >> 20):
            handle.write(os.urandom(1 << 20))

    def small_model(mode: str, i: int) -> Callable[[], Any]:
        write_artifact(small, i + (0 if MODES[mode] else 1 << 30))
        return lambda: registries[mode].register_model("small", small)

    def large_model(mode: str, i: int) -> Callable[[], Any]:
        with open(large, "r+b") as handle:  # new content, same size, each time
            handle.write(f"{mode} {i:08d}".encode().ljust(32))
        return lambda: registries[mode].register_model("large", large)

    def dataset(mode: str, i: int) -> Callable[[], Any]:
        folder = scratch / f"data-{mode.replace(' ', '-')}-{i}"
        folder.mkdir()
        for f in range(10):
            (folder / f"part-{f}.bin").write_bytes(f"{mode} {i} {f} ".encode() * 700)
        return lambda: registries[mode].upload_dataset("data", folder)

    print(f"[registrations] {sizes['small_rounds']} small models each way ...", flush=True)
    figures = {"small_model": paired(sizes["small_rounds"], small_model)}
    print(f"[registrations] {sizes['large_rounds']} models of 50 MB each way ...", flush=True)
    figures["large_model"] = paired(sizes["large_rounds"], large_model)
    print(f"[registrations] {sizes['dataset_rounds']} data sets each way ...", flush=True)
    figures["dataset"] = paired(sizes["dataset_rounds"], dataset)
    figures["large_bytes"] = sizes["large_bytes"]
    return figures


# ------------------------------------------------------------------------ sweeps
def sweep_figures(scratch: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """The sweep every publication runs, on a registry of many names."""
    registry = Registry(scratch / "names")
    artifact = scratch / "name.bin"
    names = sizes["names"]
    print(f"[sweep] registering {names} model names (without fsync, to fill faster) ...")
    files._DURABLE = False
    try:
        for i in range(names):
            write_artifact(artifact, i)
            registry.register_model(f"model-{i}", artifact)
    finally:
        files._DURABLE = True
    rounds = sizes["sweep_rounds"]

    def sweeps() -> dict[str, Any]:
        return summary([timed(lambda: registry.models.sweep("model-0")) for _ in range(rounds)])

    figures: dict[str, Any] = {"names": names, "empty": sweeps()}
    # temporaries of a live writer (this process): each costs a look at /proc
    live = [
        registry.staging / temporary_name(f"models.live-{i}") for i in range(sizes["temporaries"])
    ]
    for folder in live:
        folder.mkdir()
    figures["live_temporaries"] = sweeps()
    for folder in live:
        folder.rmdir()
    # temporaries of another host, younger than a day: each costs a stat
    mine = files.TEMPORARY.fullmatch(temporary_name("x"))
    for i in range(sizes["temporaries"]):
        name = f"models.far-{i}@elsewhere-{mine['space']}-1-1-{i:04x}"
        (registry.staging / name).mkdir()
    figures["foreign_temporaries"] = sweeps()
    figures["temporaries"] = sizes["temporaries"]
    samples = []
    for i in range(rounds // 5 or 1):
        write_artifact(artifact, names + i)
        sync()
        samples.append(timed(lambda: registry.register_model("one-more", artifact)))
    figures["register_at_names"] = summary(samples)
    return figures


# --------------------------------------------------------- environment-sized trees
def tree_figures(scratch: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """Flushing a freshly written tree the size of an installed package, as an environment
    build does before it marks the environment complete."""
    import sklearn

    package = Path(sklearn.__file__).parent
    copies, flushes = [], []
    count = sum(len(f) + 1 for _, _, f in os.walk(package))
    print(f"[tree] {sizes['tree_rounds']} flush(es) of a copy of {package} ({count} entries) ...")
    for i in range(sizes["tree_rounds"]):
        target = scratch / f"tree-{i}"
        sync()
        copies.append(timed(lambda t=target: shutil.copytree(package, t, symlinks=True)))
        flushes.append(timed(lambda t=target: fsync_tree(t)))
    return {"entries": count, "copy": summary(copies), "fsync_tree": summary(flushes)}


# --------------------------------------------------------------------- reporting
def markdown(report: dict[str, Any]) -> str:
    """The figures as a small human-readable table."""
    reg, sweep, tree, env = (
        report["registrations"],
        report["sweep"],
        report["tree"],
        report["environment"],
    )

    def pair(label: str, figure: dict[str, Any]) -> str:
        durable, fast = figure["with fsync"]["median_s"], figure["without fsync"]["median_s"]
        return table_row(
            label, ms(durable), f"{ms(fast)} without fsync", f"{durable / fast:.2f}",
            f"{figure['added_s'] * 1000:+.2f} ms",
        )  # fmt: skip

    megabytes = reg["large_bytes"] >> 20
    rows = [
        f"# snakeyard durability benchmarks{' (quick)' if report['quick'] else ''}",
        "",
        f"{env['date_utc']}, Python {env['python']}, {env['cpus']} CPUs, commit "
        f"{env['git_commit']}{' (with uncommitted changes)' if env.get('git_dirty') else ''}. "
        "Medians.",
        "",
        table_row("figure", "snakeyard", "reference", "ratio", "fsync adds"),
        table_row("---", "---:", "---:", "---:", "---:"),
        pair("1. register a model of 100 B", reg["small_model"]),
        pair(f"2. register a model of {megabytes} MB", reg["large_model"]),
        pair("3. upload a data set of 10 files of about 10 KB", reg["dataset"]),
        table_row(
            f"4. sweep before a publication, {sweep['names']} names, `.tmp/` empty",
            ms(sweep["empty"]["median_s"]), "", "", "",
        ),
        table_row(
            f"4. the same with {sweep['temporaries']} temporaries of a live writer here",
            ms(sweep["live_temporaries"]["median_s"]), "", "", "",
        ),
        table_row(
            f"4. the same with {sweep['temporaries']} young temporaries of another host",
            ms(sweep["foreign_temporaries"]["median_s"]), "", "", "",
        ),
        table_row(
            f"4. one registration at {sweep['names']} names (with fsync)",
            ms(sweep["register_at_names"]["median_s"]), "", "", "",
        ),
        table_row(
            f"5. flush a fresh copy of scikit-learn ({tree['entries']} files and folders)",
            sec(tree["fsync_tree"]["median_s"]), f"{sec(tree['copy']['median_s'])} to copy it",
            "", "",
        ),
        "",
        f"Whole benchmark run: {sec(report['total_s'])}. Load average (1, 5, 15 min) at start "
        f"{load(env['load_average_start'])}, at end {load(env.get('load_average_end'))}.",
        "",
    ]  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke check")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"output folder (default {RESULTS})"
    )
    parser.add_argument("--tmp", type=Path, help="parent of the temporary folder (its disk)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="snakeyard-durability-", dir=args.tmp))
    try:
        report: dict[str, Any] = {"quick": args.quick, "sizes": sizes}
        report["environment"] = environment_info()
        report["registrations"] = registration_figures(scratch, sizes)
        report["sweep"] = sweep_figures(scratch, sizes)
        report["tree"] = tree_figures(scratch, sizes)
        report["environment"]["load_average_end"] = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report["total_s"] = time.perf_counter() - started
    write_report(report, args.out, "durability", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
