"""The snakeyard command: inspect and use a snakeyard registry.

Commands take the form ``snakeyard <noun> <verb>``.

Human tables by default, ``--json`` for scripts. ``--registry PATH`` (or
``$SNAKEYARD_REGISTRY``, else ``./registry``) selects the registry. A user mistake
prints one line on stderr and exits 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import __version__
from .errors import SnakeyardError
from .files import human_bytes, resolved
from .registry.index import line_head, line_json, summaries
from .registry.registry import Registry
from .registry.versions import parse_ref
from .sweeps.ranking import metric_value, tie_break


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Left-aligned columns separated by two spaces, like ``ls -l``."""
    cells = [headers] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def fields(pairs: list[tuple[str, Any]]) -> str:
    """``key  value`` lines with the values aligned; dict values are indented below."""
    width = max(len(key) for key, _ in pairs)
    lines = []
    for key, value in pairs:
        if isinstance(value, dict):
            lines.append(key if value else f"{key.ljust(width)}  -")
            inner = max((len(str(k)) for k in value), default=0)
            lines += [f"  {str(k).ljust(inner)}  {short(v)}" for k, v in value.items()]
        else:
            lines.append(f"{key.ljust(width)}  {'-' if value in (None, '') else value}")
    return "\n".join(lines)


def short(value: Any) -> str:
    """A metric or tag value in a few characters: floats to 4 significant digits."""
    if isinstance(value, float):
        # 1.0 stays 1.0 (a setting), 0.97777 becomes 0.9778 (a measurement)
        return repr(value) if value.is_integer() and abs(value) < 1e6 else f"{value:.4g}"
    if isinstance(value, list):
        return f"[{len(value)} values] last {short(value[-1])}" if value else "[]"
    return str(value)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def cluster_job(run: dict) -> str | None:
    """``slurm job 12 on node1 (partition main)``, or the bare job id of older records."""
    cluster = run.get("cluster")
    if not cluster:
        return run.get("cluster_job_id")
    where = f" (partition {cluster['partition']})" if cluster.get("partition") else ""
    return f"{cluster['scheduler']} job {cluster['job_id']} on {cluster['node']}{where}"


def lineage(ref: dict[str, Any] | None) -> str | None:
    return f"{ref['name']}:{ref['version']}" if ref else None


def file_lines(files: list[dict[str, Any]]) -> dict[str, str]:
    return {f["path"]: f"{human_bytes(f['bytes']):>10}  sha256 {f['sha256']}" for f in files}


def metric_summary(metrics: dict[str, Any], limit: int = 3) -> str:
    """The first ``limit`` metrics (in name order, as stored) as ``name=value``, without
    those whose value is a mapping (a confusion matrix); `...` when there are more."""
    shown = [f"{k}={short(v)}" for k, v in list(metrics.items())[:limit] if not isinstance(v, dict)]
    return " ".join(shown) + (" ..." if len(metrics) > limit else "")


@dataclass
class Pieces:
    """Output printed a piece (a few megabytes) at a time, each made just before it is
    written: 100,000 runs' table or JSON in one string would double the memory."""

    pieces: Iterator[str]


def by_metric(rows: list[dict[str, Any]], metric: str, ascending: bool) -> list[dict[str, Any]]:
    """Model versions with a number under ``metric`` first, best (highest) first, then
    the others; ties by version. SnakeyardError when none has such a number."""
    scored = [(metric_value(r, metric), r) for r in rows]
    if rows and all(value is None for value, _ in scored):
        logged = sorted({name for r in rows for name in r.get("metrics") or {}})
        raise SnakeyardError(
            f"invalid --sort {metric!r}: no version here has a number under it "
            f"(metrics: {', '.join(logged) or 'none'})"
        )
    sign = 1 if ascending else -1
    usable = sorted(
        ((v, r) for v, r in scored if v is not None), key=lambda p: (sign * p[0], p[1]["version"])
    )
    return [r for _, r in usable] + [r for v, r in scored if v is None]


# ---------------------------------------------------------------------- models
def models_list(registry: Registry, args: argparse.Namespace) -> Any:
    models = registry.list_models()
    if args.sort:
        models = by_metric(models, args.sort, args.ascending)
    if args.json:
        return models
    if not models:
        return f"no models registered in {registry.root}"
    rows = [
        [
            m["name"],
            m["version"],
            m["versions"],
            framework(m),
            m["created"],
            metric_summary(m["metrics"]),
        ]
        for m in models
    ]
    return table(["NAME", "LATEST", "VERSIONS", "FRAMEWORK", "CREATED", "METRICS"], rows)


def framework(meta: dict[str, Any]) -> str:
    return " ".join(filter(None, [meta.get("framework"), meta.get("framework_version")])) or "-"


def models_show(registry: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.ref, "model name")
    m = registry.get_model(name, version)
    if args.json:
        return m
    res = m.get("resource_configuration") or {}
    return fields([
        ("model", f"{m['name']}:{m['version']}"),
        ("created", m["created"]),
        ("framework", framework(m)),
        ("description", m.get("description")),
        ("tags", m.get("tags") or {}),
        ("resources", ", ".join(f"{k}={v}" for k, v in res.items()) or None),
        ("run", f"{m['run_id']} (experiment {m['experiment']})" if m.get("run_id") else None),
        ("dataset", lineage(m.get("dataset"))),
        ("environment", lineage(m.get("environment"))),
        ("metrics", m.get("metrics") or {}),
        ("files", file_lines(m["files"])),
        ("path", m["artifact_path"]),
    ])  # fmt: skip


def models_versions(registry: Registry, args: argparse.Namespace) -> Any:
    versions = registry.model_versions(args.name)
    if args.sort:
        versions = by_metric(versions, args.sort, args.ascending)
    if args.json:
        return versions
    rows = [
        [m["version"], m["created"], m.get("run_id"), metric_summary(m["metrics"])]
        for m in versions
    ]
    return table(["VERSION", "CREATED", "RUN", "METRICS"], rows)


def models_download(registry: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.ref, "model name")
    dest = registry.download_model(name, version, args.dest)
    meta = registry.get_model(name, version)
    if args.json:
        return {"name": name, "version": meta["version"], "dest": str(dest)}
    files = plural(len(meta["files"]), "file")
    return f"model {name}:{meta['version']} ({files}, sha256 checked) -> {dest}"


def models_register(registry: Registry, args: argparse.Namespace) -> Any:
    tags = {}
    for item in args.tag:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SnakeyardError(f"invalid --tag {item!r}: use KEY=VALUE")
        tags[key] = value
    meta = registry.register_model(
        args.name,
        args.path,
        framework=args.framework,
        framework_version=args.framework_version,
        description=args.description,
        tags=tags,
    )
    if args.json:
        return meta
    state = "registered" if meta["new"] else "already registered (identical content)"
    return f"model {meta['name']}:{meta['version']} {state}"


# -------------------------------------------------------------------- datasets
def datasets_list(registry: Registry, args: argparse.Namespace) -> Any:
    rows = registry.list_datasets()
    if args.json:
        return rows
    if not rows:
        return f"no data sets registered in {registry.root}"
    return table(
        ["NAME", "LATEST", "VERSIONS", "FILES", "SIZE", "CREATED", "DESCRIPTION"],
        [
            [d["name"], d["version"], d["versions"], d["file_count"], human_bytes(d["bytes"]),
             d["created"], d.get("description")]
            for d in rows
        ],
    )  # fmt: skip


def datasets_show(registry: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.ref, "data set name")
    d = registry.get_dataset(name, version)
    if args.json:
        return d
    return fields([
        ("dataset", f"{d['name']}:{d['version']}"),
        ("created", d["created"]),
        ("description", d.get("description")),
        ("origin", d.get("origin")),
        ("format", d.get("format", "files")),
        *schema_fields(d),
        ("content", d["content_hash"]),
        ("size", f"{human_bytes(d['bytes'])} in {plural(d['file_count'], 'file')}"),
        ("files", file_lines(d["files"])),
        ("location", d["location"]),
    ])  # fmt: skip


def schema_fields(d: dict[str, Any]) -> list[tuple[str, Any]]:
    """What a version records about its files: table columns, or idx shapes."""
    schema = d.get("schema") or {}
    if d.get("format") == "tabular" and schema:
        columns = {
            c["name"]: c["type"] + (f" ({c['missing']} missing)" if c.get("missing") else "")
            for c in schema["columns"]
        }
        return [
            ("table", f"{schema['file']}: {schema['rows']} rows, label column "
                      f"{schema['label_column']}"),
            ("columns", columns),
        ]  # fmt: skip
    if d.get("format") == "idx" and schema:
        shapes = {
            path: f"{info['dtype']} {' x '.join(map(str, info['shape']))}"
            for path, info in schema["files"].items()
        }
        return [("arrays", shapes)]
    return []


def datasets_diff(registry: Registry, args: argparse.Namespace) -> Any:
    from .data.diff import diff_datasets

    old = parse_ref(f"{args.name}:{args.old}", "data set name")[1]
    new = parse_ref(f"{args.name}:{args.new}", "data set name")[1]
    d = diff_datasets(registry.get_dataset(args.name, old), registry.get_dataset(args.name, new))
    if args.json:
        return d
    lines = [f"data set {d['name']}: version {d['from']} -> {d['to']}"]
    if d["identical"]:
        lines[0] += ": same files"
    if d["format"]["from"] != d["format"]["to"]:
        lines.append(f"  format   {d['format']['from']} -> {d['format']['to']}")
    rows = [
        [kind, e["path"], human_bytes(e["bytes"]), f"sha256 {e['sha256'][:12]}"]
        for kind in ("added", "removed")
        for e in d[kind]
    ]
    for c in d["changed"]:
        sizes = f"{human_bytes(c['from']['bytes'])} -> {human_bytes(c['to']['bytes'])}"
        hashes = f"sha256 {c['from']['sha256'][:12]} -> {c['to']['sha256'][:12]}"
        rows.append(["changed", c["path"], sizes, hashes])
    if rows:
        lines += ["  " + line for line in table(["", "", "", ""], rows).splitlines()[1:]]
    for kind in ("added", "removed", "retyped"):
        for column in d["columns"][kind]:
            lines.append(f"  column {kind}  {column}")
    unchanged = len(d["unchanged"])
    lines.append(f"  {plural(unchanged, 'file')} unchanged ({human_bytes(d['unchanged_bytes'])})")
    return "\n".join(lines)


# ---------------------------------------------------------------- environments
def environments_list(registry: Registry, args: argparse.Namespace) -> Any:
    rows = registry.list_environments()
    if args.json:
        return rows
    if not rows:
        return f"no environments registered in {registry.root}"
    return table(
        ["NAME", "LATEST", "VERSIONS", "METHOD", "PACKAGES", "CREATED"],
        [
            [e["name"], e["version"], e["versions"], e["method"], len(e["packages"]), e["created"]]
            for e in rows
        ],
    )


def environments_show(registry: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.ref, "environment name")
    e = registry.get_environment(name, version)
    if args.json:
        return e
    return fields([
        ("environment", f"{e['name']}:{e['version']}"),
        ("created", e["created"]),
        ("method", e["method"]),
        ("spec", e["spec_file"]),
        ("spec sha256", e["spec_hash"]),
        ("lock", f"{e['lock_file']} sha256 {e['lock_hash']}" if e.get("lock_file") else None),
        ("platforms", " ".join(e.get("platforms") or []) or None),
        ("python", e.get("python")),
        ("packages", e["packages"]),
        ("path", e["path"]),
    ])  # fmt: skip


# ------------------------------------------------------------------------ runs
def runs_list(registry: Registry, args: argparse.Namespace) -> Any:
    lines = registry.run_lines(args.experiment)
    if args.status:
        if args.status.lower() not in ("completed", "failed", "running", "lost"):
            raise SnakeyardError(
                f"invalid --status {args.status!r}: use Completed, Failed, Running or Lost"
            )
        lines = [line for line in lines if line_head(line)[2].lower() == args.status.lower()]
    if args.sort:
        lines = lines_by_metric(lines, args.sort, args.ascending)
    if args.reverse:
        lines.reverse()
    if args.limit is not None:
        if args.limit < 1:
            raise SnakeyardError(f"invalid --limit {args.limit}: use a whole number from 1")
        lines = lines[: args.limit]
    if args.json:
        return Pieces(json_pieces(lines))
    if not lines:
        return "no runs" + (f" of experiment {args.experiment!r}" if args.experiment else "")
    lost = sum(line_head(line)[2] == "Lost" for line in lines)
    footer = "" if not lost else (
        f"{plural(lost, 'run')} Lost (process gone, no final record): "
        "`snakeyard runs settle RUN_ID` records one as Failed"
    )
    if args.sort:
        return "\n".join(filter(None, [runs_by_metric(list(summaries(lines)), args.sort), footer]))

    def rows() -> Iterator[list[Any]]:
        for r in summaries(lines):
            yield [r["id"], r["experiment"], r["status"], r.get("exit_code"), r.get("start"),
                   r.get("duration_seconds"), r.get("host"),
                   metric_summary(r.get("metrics") or {})]  # fmt: skip

    headers = ["RUN", "EXPERIMENT", "STATUS", "EXIT", "START", "SECONDS", "HOST", "METRICS"]
    return Pieces(long_table(headers, rows, footer))


def json_pieces(lines: list[str], per_piece: int = 5000) -> Iterator[str]:
    """The JSON array of the lines' summaries, a few thousand summaries a piece."""
    yield "["
    for start in range(0, len(lines), per_piece):
        chunk = ",\n".join(line_json(line) for line in lines[start : start + per_piece])
        yield ("," if start else "") + "\n" + chunk
    yield "\n]\n"


def lines_by_metric(lines: list[str], metric: str, ascending: bool) -> list[str]:
    """Index lines of runs ranked as :func:`sort_by_metric` ranks records, parsing one
    summary at a time (a listing of 100,000 runs holds lines, not records)."""
    keyed, logged = [], set()
    for line, run in zip(lines, summaries(lines), strict=True):
        logged.update(run.get("metrics") or {})
        value = metric_value(run, metric) if run.get("status") == "Completed" else None
        keyed.append((value, tie_break(run), line))
    if lines and all(value is None for value, _, _ in keyed):
        raise SnakeyardError(
            f"invalid --sort {metric!r}: no run here logged a number under it "
            f"(metrics logged: {', '.join(sorted(logged)) or 'none'})"
        )
    sign = 1 if ascending else -1
    usable = sorted((sign * v, tie, line) for v, tie, line in keyed if v is not None)
    return [line for *_, line in usable] + [line for v, _, line in keyed if v is None]


def long_table(
    headers: list[str], rows: Callable[[], Iterator[list[Any]]], footer: str = "",
    per_piece: int = 5000,
) -> Iterator[str]:
    """:func:`table` of many rows, a piece at a time: ``rows()`` is read twice, once
    for the columns' widths and once to print, so no row is kept in between."""
    widths = [len(h) for h in headers]
    for row in rows():
        for i, cell in enumerate(row):
            size = len("" if cell is None else str(cell))
            if size > widths[i]:
                widths[i] = size
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    yield line.format(*headers).rstrip()
    piece = []
    for row in rows():
        cells = ("" if c is None else str(c) for c in row)
        piece.append(line.format(*cells).rstrip())
        if len(piece) == per_piece:
            yield "\n" + "\n".join(piece)
            piece = []
    yield "".join("\n" + text for text in [*piece, footer] if text) + "\n"


def runs_by_metric(runs: list[dict[str, Any]], metric: str) -> str:
    """The runs ranked by one metric, with each sweep trial's parameter values."""
    def score(run: dict[str, Any]) -> str:
        value = metric_value(run, metric)
        return "-" if value is None else short(value)

    def parameters(run: dict[str, Any]) -> str:
        values = (run.get("trial") or {}).get("parameters") or run.get("arguments") or {}
        return " ".join(f"{k}={short(v)}" for k, v in values.items())

    return table(
        ["RUN", "STATUS", metric.upper(), "TRIAL", "PARAMETERS", "SECONDS"],
        [
            [r["id"], r["status"], score(r),
             (r.get("trial") or {}).get("id"), parameters(r), r["duration_seconds"]]
            for r in runs
        ],
    )  # fmt: skip


def run_status(r: dict[str, Any]) -> str:
    """``Failed (why)``; for a Lost run, why it is taken as lost and how to settle it."""
    if r["status"] == "Lost":
        return f"Lost ({r['lost']}; `snakeyard runs settle {r['id']}` records it as Failed)"
    return r["status"] + (f" ({r['error']})" if r.get("error") else "")


def runs_show(registry: Registry, args: argparse.Namespace) -> Any:
    r = registry.get_run(args.run_id)
    if args.json:
        return r
    return fields([
        ("run", r["id"]),
        ("experiment", r["experiment"]),
        ("status", run_status(r)),
        *[("warning", warning) for warning in r.get("warnings", [])],
        ("exit code", r["exit_code"]),
        ("start", r["start"]),
        ("end", r["end"]),
        ("duration", f"{r['duration_seconds']} s" if r["duration_seconds"] is not None else None),
        ("host", r["host"] + (f" (pid {r['pid']})" if r.get("pid") else "")),
        ("cluster job", cluster_job(r)),
        ("git commit", r.get("git_commit")),
        ("command", " ".join(r["command"])),
        ("arguments", r["arguments"]),
        *([("trial", r["trial"]["id"])] if r.get("trial") else []),
        ("dataset", lineage(r["dataset"])),
        ("environment", lineage(r["environment"])),
        ("python", r.get("python")),
        ("packages", package_summary(r.get("packages") or {})),
        ("snapshot", f"{r['snapshot_hash']} ({plural(r['snapshot_files'], 'file')})"),
        ("metrics", r["metrics"]),
        ("tags", r.get("tags") or {}),
        ("images", {k: v["path"] for k, v in (r.get("images") or {}).items()}),
        ("uploads", {k: v["path"] for k, v in (r.get("uploads") or {}).items()}),
        ("outputs", file_lines(r["outputs"])),
        ("folder", r["folder"]),
    ])  # fmt: skip


def runs_settle(registry: Registry, args: argparse.Namespace) -> Any:
    r = registry.settle_run(args.run_id, force=args.force)
    if args.json:
        return r
    return f"run {r['id']} settled: {run_status(r)}"


def package_summary(packages: dict[str, str], limit: int = 30) -> dict[str, str] | str:
    """The packages a run had, or their count when there are too many to read (--json)."""
    if len(packages) <= limit:
        return packages
    shown = ", ".join(f"{n} {packages[n]}" for n in ("python", "scikit-learn") if n in packages)
    return f"{len(packages)} ({shown}; --json lists them all)"


# ---------------------------------------------------------------------- verify
def verify(registry: Registry, args: argparse.Namespace) -> Any:
    versions, runs, problems = 0, 0, []
    for label, found in registry.verify():
        if label == "index":
            pass  # the listings' summaries, checked against the folders just counted
        elif label.startswith("run "):
            runs += 1
        else:
            versions += 1
        problems += found
    checked = f"{plural(versions, 'version')} and {plural(runs, 'run record')}"
    if args.json and not problems:
        return {"checked": versions, "runs": runs, "problems": []}
    if problems:
        raise SnakeyardError(f"{len(problems)} problem(s) in {checked}:\n" + "\n".join(problems))
    return f"checked {checked} in {registry.root}: every sha256 matches, nothing unlisted"


def index_rebuild(registry: Registry, args: argparse.Namespace) -> Any:
    names, experiments = registry.rebuild_index()
    if args.json:
        return {"models": names, "experiments": experiments}
    return (
        f"rebuilt the listing index of {plural(names, 'model')} and "
        f"{plural(experiments, 'experiment')} in {registry.root} from their folders"
    )


def parser() -> argparse.ArgumentParser:
    """The ``snakeyard`` command line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", default=argparse.SUPPRESS, help="registry folder")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    top = argparse.ArgumentParser(
        prog="snakeyard", description=__doc__.splitlines()[0], parents=[common]
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    nouns = top.add_subparsers(dest="noun", required=True, metavar="NOUN")

    def verb(
        noun_parsers: Any, name: str, function: Any, help_text: str
    ) -> argparse.ArgumentParser:
        command = noun_parsers.add_parser(name, parents=[common], help=help_text)
        command.set_defaults(function=function)
        return command

    models = nouns.add_parser("models", help="registered models").add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
    models_listing = verb(models, "list", models_list, "latest version of every model")
    verb(models, "show", models_show, "one version: metrics, lineage, files").add_argument(
        "ref",
        metavar="NAME[:VERSION]",
        help="model NAME or NAME:VERSION; without a version, the latest",
    )
    every = verb(models, "versions", models_versions, "every version of one model")
    every.add_argument("name", metavar="NAME", help="model name")
    for command in (models_listing, every):
        command.add_argument(
            "--sort", default=None, metavar="METRIC", help="best first by METRIC (highest first)"
        )
        command.add_argument("--ascending", action="store_true", help="with --sort: lowest first")
    download = verb(models, "download", models_download, "copy a version's files to DEST")
    download.add_argument(
        "ref",
        metavar="NAME[:VERSION]",
        help="model NAME or NAME:VERSION; without a version, the latest",
    )
    download.add_argument("dest", metavar="DEST", help="new folder to copy the files into")
    register = verb(models, "register", models_register, "register a file or folder")
    register.add_argument("name", metavar="NAME", help="model name")
    register.add_argument("path", metavar="PATH", help="model file or folder to register")
    register.add_argument("--framework", default=None)
    register.add_argument("--framework-version", default=None)
    register.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    register.add_argument("--description", default="")

    datasets = nouns.add_parser("datasets", help="data set versions").add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
    verb(datasets, "list", datasets_list, "latest version of every data set")
    verb(datasets, "show", datasets_show, "one version: files, sizes, hashes").add_argument(
        "ref",
        metavar="NAME[:VERSION]",
        help="data set NAME or NAME:VERSION; without a version, the latest",
    )
    compare = verb(datasets, "diff", datasets_diff, "what changed between two versions")
    compare.add_argument("name", metavar="NAME", help="data set name")
    compare.add_argument("old", metavar="V1", help="version to compare from (a number, or latest)")
    compare.add_argument("new", metavar="V2", help="version to compare to (a number, or latest)")

    environments = nouns.add_parser("environments", help="environment versions").add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
    verb(environments, "list", environments_list, "latest version of every environment")
    verb(environments, "show", environments_show, "one version: spec and packages").add_argument(
        "ref",
        metavar="NAME[:VERSION]",
        help="environment NAME or NAME:VERSION; without a version, the latest",
    )

    runs = nouns.add_parser("runs", help="training runs").add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
    listing = verb(runs, "list", runs_list, "runs, oldest first")
    listing.add_argument("--experiment", default=None)
    listing.add_argument("--status", default=None, help="Completed, Failed, Running or Lost")
    listing.add_argument(
        "--sort", default=None, metavar="METRIC", help="best first by METRIC (highest first)"
    )
    listing.add_argument("--ascending", action="store_true", help="with --sort: lowest first")
    listing.add_argument("--reverse", action="store_true", help="newest (or last) first")
    listing.add_argument("--limit", type=int, default=None, metavar="N", help="the first N only")
    verb(runs, "show", runs_show, "one run's record").add_argument(
        "run_id", metavar="RUN_ID", help="run id, e.g. sklearn-iris_1795524285_9d28c5b6"
    )
    settle = verb(runs, "settle", runs_settle, "record a Lost run as Failed")
    settle.add_argument(
        "run_id", metavar="RUN_ID", help="run id, e.g. sklearn-iris_1795524285_9d28c5b6"
    )
    settle.add_argument(
        "--force",
        action="store_true",
        help="settle it although its process looks alive (a node the check cannot see)",
    )

    check = nouns.add_parser(
        "verify", parents=[common], help="check every sha256, path and file in the registry"
    )
    check.set_defaults(function=verify)
    index = nouns.add_parser("index", help="the registry's listing index").add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
    verb(index, "rebuild", index_rebuild, "write the listing index afresh from the folders")
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``snakeyard`` command; returns the exit code."""
    args = parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    registry = Registry(getattr(args, "registry", None))
    try:
        if args.function is not models_register and not registry.root.is_dir():
            raise SnakeyardError(
                f"no registry at '{resolved(registry.root, 'registry')}' (choose one with "
                "--registry PATH or $SNAKEYARD_REGISTRY)"
            )
        result = args.function(registry, args)
    except (SnakeyardError, OSError) as error:
        print(f"snakeyard: error: {error}", file=sys.stderr)
        return 1
    try:
        # one write of the whole text: json.dump would write it in thousands of pieces
        if isinstance(result, Pieces):
            for piece in result.pieces:
                sys.stdout.write(piece)
        else:
            if args.json:
                result = json.dumps(result, indent=2, sort_keys=True)
            sys.stdout.write(f"{result}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader (head, less) went away; that is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
