"""Registry lifecycle benchmarks: resolving ``NAME@ALIAS`` among many versions, and the
disk a large model registered from a run takes with one copy of its bytes.

Run from the repository root::

    python benchmarks/lifecycle.py            # 10,000 versions and a 200 MB model
    python benchmarks/lifecycle.py --quick    # 300 versions and a 20 MB model

Figures go to ``benchmarks/results/lifecycle.json`` and ``lifecycle.md`` and are
printed at the end. Everything runs in a temporary folder. Nothing here asserts on
time. See ``benchmarks/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core import (
    MODEL_NAME,
    RESULTS,
    environment_info,
    fill_registry,
    load,
    ms,
    report_heading,
    sec,
    summary,
    table_row,
    time_calls,
    write_report,
)
from snakeyard.registry.registry import Registry
from snakeyard.training.stage import collect

FULL = {
    "versions": 10_000,  # versions of one model
    "moves": 100,  # alias moves in the model's history before resolving
    "resolve_repeats": 200,
    "model_bytes": 200 << 20,
}
QUICK = {"versions": 300, "moves": 20, "resolve_repeats": 50, "model_bytes": 20 << 20}
AIM_ALIAS_RATIO = 2.0  # NAME@ALIAS within 2x of NAME (latest)


def resolve_figures(workdir: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """Resolve ``NAME@ALIAS`` and ``NAME`` (latest) at ``versions`` versions, after
    ``moves`` alias moves, tag edits and one archived top version."""
    registry = Registry(workdir / "registry")
    fill = fill_registry(registry, workdir / "artifact.bin", sizes["versions"])
    for i in range(sizes["moves"]):
        registry.set_alias(MODEL_NAME, 1 + (i * 97) % sizes["versions"], "production")
        registry.tag_model(MODEL_NAME, 1 + i, {"reviewed": str(i)})
    repeats = sizes["resolve_repeats"]
    store = registry.models

    def figures(function: Any) -> dict[str, Any]:
        function(0)  # warm the page cache, as a serving process would be
        return summary(time_calls(function, repeats))

    found = {
        "fill_s": fill,
        "latest_number_before": figures(lambda _: store.latest(MODEL_NAME)),
        "latest_number": figures(lambda _: store.resolve(MODEL_NAME, "latest")),
        "alias_number": figures(lambda _: store.resolve(MODEL_NAME, "@production")),
        "latest_model": figures(lambda _: registry.get_model(MODEL_NAME)),
        "alias_model": figures(lambda _: registry.get_model(f"{MODEL_NAME}@production")),
    }
    # with the last version archived, latest walks down one version
    registry.archive_model(MODEL_NAME, sizes["versions"])
    found["latest_number_archived_top"] = figures(lambda _: store.resolve(MODEL_NAME, "latest"))
    found["history_events"] = len(registry.history("model", MODEL_NAME))
    return found


def disk_use(folder: Path) -> int:
    """Bytes of disk that the files below ``folder`` take, each file counted once however
    many hard links it has (as ``du`` counts)."""
    seen, total = set(), 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            stat = os.lstat(os.path.join(dirpath, name))
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_blocks * 512
    return total


def finished_run(project: Path, size: int) -> tuple[Registry, Path]:
    """A registry holding one finished run whose outputs hold a ``size``-byte model, and
    the train stage's ``results/<experiment>/run.json`` for it."""
    registry = Registry(project / "registry")
    run_id = f"big_{int(time.time())}_{os.urandom(4).hex()}"
    folder = registry.run_folder("big", run_id)
    outputs = folder / "work" / "outputs"
    outputs.mkdir(parents=True)
    with open(outputs / "model.joblib", "wb") as handle:
        for _ in range(size // (1 << 20)):
            handle.write(os.urandom(1 << 20))  # incompressible, as a fitted forest is
    size_written = (outputs / "model.joblib").stat().st_size
    record = {
        "id": run_id, "experiment": "big", "status": "Completed", "folder": str(folder),
        "metrics": {}, "warnings": [],
        "outputs": [{"path": "model.joblib", "bytes": size_written, "sha256": ""}],
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))
    run = project / "results" / "big" / "run.json"
    run.parent.mkdir(parents=True)
    run.write_text(json.dumps(record))
    return registry, run


def copy_figures(workdir: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """Disk use of one large model from a run to the registry: before (the outputs copied
    to results/ and again into the registry, as snakeyard did) and after (the collect
    stage and registration as they are now)."""
    found: dict[str, Any] = {"model_bytes": sizes["model_bytes"]}
    for how in ("before", "after"):
        project = workdir / how
        registry, run = finished_run(project, sizes["model_bytes"])
        record = json.loads(run.read_text())
        outputs = Path(record["folder"]) / "work" / "outputs"
        results = project / "results" / "big" / "outputs"
        start = time.perf_counter()
        if how == "before":
            shutil.copytree(outputs, results)
            registry.register_model("big", results / "model.joblib")  # a copy, hashed
        else:
            metrics = run.with_name("metrics.tsv")
            collect(run=run, outputs=results, metrics=metrics, log=lambda _: None)
            registry.register_model("big", outputs / "model.joblib", run_id=record["id"])
        found[how] = {
            "seconds": time.perf_counter() - start,
            "disk_bytes": disk_use(project),
        }
        shutil.rmtree(project, ignore_errors=True)
    return found


def markdown(report: dict[str, Any]) -> str:
    r, c, env = report["resolve"], report["copies"], report["environment"]
    versions = report["sizes"]["versions"]
    ratio = r["alias_number"]["median_s"] / r["latest_number"]["median_s"]
    model_ratio = r["alias_model"]["median_s"] / r["latest_model"]["median_s"]
    mb = c["model_bytes"] / (1 << 20)
    rows = report_heading("lifecycle", report) + [
        table_row(f"1a resolve {MODEL_NAME}@production at {versions} versions (number)",
                  ms(r["alias_number"]["median_s"]), f"latest {ms(r['latest_number']['median_s'])}",
                  f"{ratio:.2f}", f"≤ {AIM_ALIAS_RATIO}"),
        table_row("1b get_model(NAME@ALIAS) vs get_model(NAME)", ms(r["alias_model"]["median_s"]),
                  ms(r["latest_model"]["median_s"]), f"{model_ratio:.2f}", f"≤ {AIM_ALIAS_RATIO}"),
        table_row("1c latest, highest number only (what `latest` cost before archive existed)",
                  ms(r["latest_number_before"]["median_s"]), "", "", ""),
        table_row("1d latest with the top version archived",
                  ms(r["latest_number_archived_top"]["median_s"]), "", "", ""),
        table_row(f"2 disk use of a {mb:.0f} MB model from a run (run + results/ + registry)",
                  f"{c['after']['disk_bytes'] / (1 << 20):.0f} MB",
                  f"{c['before']['disk_bytes'] / (1 << 20):.0f} MB before",
                  f"{c['after']['disk_bytes'] / c['before']['disk_bytes']:.2f}", "1 copy"),
        table_row("2b collect + register that model", sec(c["after"]["seconds"]),
                  f"{sec(c['before']['seconds'])} before",
                  f"{c['after']['seconds'] / c['before']['seconds']:.2f}", ""),
        "",
        f"The model's history held {r['history_events']} events ({report['sizes']['moves']} alias "
        f"moves and as many tag edits, one archive). Filling {versions} versions took "
        f"{sec(r['fill_s'])}. Whole run: {sec(report['total_s'])}. Load average (1, 5, 15 min) "
        f"at start {load(env['load_average_start'])}, at end {load(env.get('load_average_end'))}.",
        "",
    ]  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"output folder (default {RESULTS})"
    )
    parser.add_argument("--tmp", type=Path, help="parent of the temporary folder (its disk)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="snakeyard-lifecycle-", dir=args.tmp))
    try:
        report: dict[str, Any] = {"quick": args.quick, "sizes": sizes}
        report["environment"] = environment_info()
        report["copies"] = copy_figures(scratch, sizes)
        report["resolve"] = resolve_figures(scratch, sizes)
        report["environment"]["load_average_end"] = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report["total_s"] = time.perf_counter() - started
    write_report(report, args.out, "lifecycle", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
