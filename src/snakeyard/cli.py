"""The snakeyard command: inspect and use a snakeyard registry.

Commands take the form ``snakeyard <noun> <verb>``.

Human tables by default, ``--json`` for scripts. ``--registry PATH`` (or
``$SNAKEYARD_REGISTRY``, else ``./registry``) selects the registry. A user mistake
prints one line on stderr and exits 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

from . import __version__
from .errors import SnakeyardError
from .files import human_bytes, json_text, resolved
from .registry.index import line_json, summaries
from .registry.registry import Registry
from .registry.versions import parse_ref, parse_version
from .training.follow import GRACE_SECONDS
from .training.metric_values import metrics_line, summary

REF_HELP = "model NAME, NAME:VERSION or NAME@ALIAS; without a version, the latest"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Left-aligned columns separated by two spaces, like ``ls -l``."""
    cells = [headers] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


FULL_TEXT = 400  # characters of a text value `show` prints whole (a hash, a path, a line)


def fields(pairs: list[tuple[str, Any]]) -> str:
    """``key  value`` lines with the values aligned; dict values are indented below, text
    up to FULL_TEXT characters whole, other values (and longer text) summarised."""
    width = max(len(key) for key, _ in pairs)
    lines = []
    for key, value in pairs:
        if isinstance(value, dict):
            lines.append(key if value else f"{key.ljust(width)}  -")
            inner = max((len(str(k)) for k in value), default=0)
            lines += [
                f"  {str(k).ljust(inner)}  "
                + (v if isinstance(v, str) and "\n" not in v and len(v) <= FULL_TEXT else short(v))
                for k, v in value.items()
            ]
        else:
            lines.append(f"{key.ljust(width)}  {'-' if value in (None, '') else value}")
    return "\n".join(lines)


def short(value: Any) -> str:
    """A metric or tag value in one bounded line: floats to 4 significant digits, lists,
    tables and long text summarised (see snakeyard.training.metric_values)."""
    return summary(value)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def cluster_job(run: dict) -> str | None:
    """``slurm job 12 on node1 (partition main)``, or the bare job id of older records."""
    cluster = run.get("cluster")
    if not cluster:
        return run.get("cluster_job_id")
    where = f" (partition {cluster['partition']})" if cluster.get("partition") else ""
    return f"{cluster['scheduler']} job {cluster['job_id']} on {cluster['node']}{where}"


def distributed_summary(run: dict) -> dict[str, Any]:
    """A distributed run's processes, and its Dask workers or MPI rank logs."""
    d = run["distributed"]
    found: dict[str, Any] = {
        "backend": f"{d['backend']} ({d.get('launcher')}), {d['processes']} processes on "
        f"{plural(d['nodes'], 'node')}"
    }
    if d.get("dashboard"):
        found["dashboard"] = d["dashboard"] + ("" if run["status"] == "Running" else " (gone)")
    for w in d.get("workers", []):
        found[f"worker {w['name']}"] = (
            f"{w['host']}, {plural(w['threads'], 'thread')}, {plural(w['tasks'], 'task')}"
        )
    for rank, path in (d.get("rank_logs") or {}).items():
        found[f"rank {rank} log"] = path
    return found


def lineage(ref: dict[str, Any] | None) -> str | None:
    return f"{ref['name']}:{ref['version']}" if ref else None


def file_lines(files: list[dict[str, Any]]) -> dict[str, str]:
    return {f["path"]: f"{human_bytes(f['bytes']):>10}  sha256 {f['sha256']}" for f in files}


def metric_summary(metrics: dict[str, Any], width: int = 100) -> str:
    """The metrics as ``name=value``, each value summarised in a bounded line; those that
    fit in about ``width`` characters, then how many more there are."""
    return metrics_line(metrics, width)


@dataclass
class Pieces:
    """Output printed a piece (a few megabytes) at a time, each made just before it is
    written: 100,000 runs' table or JSON in one string would double the memory."""

    pieces: Iterator[str]


# ---------------------------------------------------------------------- models
def warn_skipped(skipped: list[str]) -> None:
    """One stderr line per entry a listing left out (stdout stays the listing, valid
    JSON with ``--json``)."""
    for line in skipped:
        print(f"snakeyard: warning: {line}; `snakeyard verify` checks it", file=sys.stderr)


def models_list(registry: Registry, args: argparse.Namespace) -> Any:
    skipped: list[str] = []
    models = by_metric(registry.list_models(include_hidden=args.all, skipped=skipped), args)
    warn_skipped(skipped)
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
            " ".join(f"{a}={v}" for a, v in m["all_aliases"].items()) or "-",
            *sorted_value(m, args),
            metric_summary(m["metrics"]),
        ]
        for m in models
    ]
    return table(
        ["NAME", "LATEST", "VERSIONS", "FRAMEWORK", "CREATED", "ALIASES",
         *sorted_header(args), "METRICS"],
        rows,
    )  # fmt: skip


def by_metric(versions: list[Any], args: argparse.Namespace) -> list[Any]:
    """Model versions ordered by ``--sort METRIC`` (highest first, or lowest with
    ``--ascending``), by the last value of a metric logged several times; those without
    a finite number under it last. Unsorted without ``--sort``."""
    if not args.sort:
        return versions
    from .sweeps.ranking import sort_by_metric

    return sort_by_metric(versions, args.sort, not args.ascending, completed_only=False)


def sorted_header(args: argparse.Namespace) -> list[str]:
    """The ``--sort`` metric's column heading, when there is one."""
    return [args.sort.upper()] if args.sort else []


def sorted_value(meta: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The ``--sort`` metric's value in that column (``-`` for none)."""
    if not args.sort:
        return []
    from .sweeps.ranking import metric_value

    value = metric_value(meta, args.sort)
    return ["-" if value is None else short(value)]


def framework(meta: dict[str, Any]) -> str:
    return " ".join(filter(None, [meta.get("framework"), meta.get("framework_version")])) or "-"


def models_show(registry: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.ref, "model name")
    if args.history:
        return history(registry, "model", name, version, args.json)
    m = registry.get_model(name, version)
    if args.json:
        return m
    res = m.get("resource_configuration") or {}
    return fields([
        ("model", f"{m['name']}:{m['version']}"),
        ("created", m["created"]),
        *state_fields(m),
        ("framework", framework(m)),
        ("description", m.get("description")),
        ("tags", m.get("tags") or {}),
        ("resources", ", ".join(f"{k}={v}" for k, v in res.items()) or None),
        ("run", f"{m['run_id']} (experiment {m['experiment']})" if m.get("run_id") else None),
        ("dataset", lineage(m.get("dataset"))),
        ("environment", lineage(m.get("environment"))),
        ("metrics", m.get("metrics") or {}),
        ("signature", describe_signature(m.get("signature")) or "- (checked by the model)"),
        *stored_fields(m, [("files", file_lines(m["files"])), ("path", m["artifact_path"])]),
    ])  # fmt: skip


def stored_fields(meta: dict[str, Any], pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``pairs`` about a version's stored files, none once it is deleted: its files
    were removed with it, and a path shown would point at nothing."""
    return [] if "deleted" in meta else pairs


def describe_signature(signature: dict[str, Any] | None) -> dict[str, str] | None:
    from .serving.signature import describe

    return describe(signature)


def models_versions(registry: Registry, args: argparse.Namespace) -> Any:
    skipped: list[str] = []
    versions = registry.model_versions(args.name, include_hidden=args.all, skipped=skipped)
    warn_skipped(skipped)
    versions = by_metric(versions, args)
    if args.json:
        return versions
    rows = [
        [m["version"], state_word(m), " ".join(m["aliases"]) or "-", m["created"],
         m.get("run_id"), *sorted_value(m, args), metric_summary(m["metrics"])]
        for m in versions
    ]  # fmt: skip
    return table(
        ["VERSION", "STATE", "ALIASES", "CREATED", "RUN", *sorted_header(args), "METRICS"], rows
    )


def state_word(meta: dict[str, Any]) -> str:
    return "deleted" if "deleted" in meta else "archived" if "archived" in meta else "live"


def stamp(change: dict[str, Any] | None) -> str | None:
    """``at <time> by <user>@<host>`` of a change, or None."""
    return f"at {change['time']} by {change['user']}@{change['host']}" if change else None


def state_fields(meta: dict[str, Any]) -> list[tuple[str, Any]]:
    """The aliases of a version, and when and by whom it was archived or deleted."""
    found = [("aliases", " ".join(meta.get("aliases") or []) or None)]
    for key in ("archived", "deleted"):
        if key in meta:
            found.append((key, stamp(meta[key])))
    return found


def history(registry: Registry, kind: str, name: str, version: Any, as_json: bool) -> Any:
    """The moves of an alias (``NAME@ALIAS``), or every change to one version."""
    from .registry.lifecycle import alias_history

    events = registry.history(kind, name)
    if isinstance(version, str) and version.startswith("@"):
        moves = alias_history(events, version[1:])
        if not moves:
            # an alias that never existed: the resolver's message names the known ones
            getattr(registry, f"get_{kind}")(name, version)
        if as_json:
            return moves
        return table(
            ["TIME", "USER", "HOST", "FROM", "TO"],
            [[m["time"], m["user"], m["host"], m["from"] or "-",
              "-" if m["to"] is None else m["to"]] for m in moves],
        )  # fmt: skip
    number = getattr(registry, f"get_{kind}")(name, version)["version"]
    mine = [
        e for e in events
        if e.get("version") == number or (e["action"] == "alias" and number in (e["from"], e["to"]))
    ]  # fmt: skip
    if as_json:
        return mine
    return table(
        ["TIME", "USER", "HOST", "CHANGE"],
        [[e["time"], e["user"], e["host"], describe_event(e)] for e in mine],
    )


def describe_event(e: dict[str, Any]) -> str:
    """One change in words."""
    action = e["action"]
    if action == "alias":
        return f"alias {e['alias']}: {e['from'] or '-'} -> {'-' if e['to'] is None else e['to']}"
    if action == "tag":
        changes = [f"{k}={v}" for k, v in (e.get("set") or {}).items()]
        return "tags " + " ".join(changes + [f"-{k}" for k in e.get("remove") or []])
    if action == "describe":
        return f"description: {e['to']!r}"
    if action == "delete" and e.get("aliases"):
        return f"deleted (aliases removed: {', '.join(e['aliases'])})"
    return {"archive": "archived", "restore": "restored", "delete": "deleted"}[action]


def version_number(ref: str, what: str) -> tuple[str, int]:
    """``NAME:N`` for a verb that must name a version by its number."""
    name, version = parse_ref(ref, what)
    if not isinstance(version, int):
        raise SnakeyardError(
            f"invalid reference {ref!r}: name the version by its number, NAME:N ('latest' "
            "and aliases move, so the version they name now may not be the one meant)"
        )
    return name, version


def models_alias(registry: Registry, args: argparse.Namespace) -> Any:
    if args.delete:
        if args.alias is not None:
            raise SnakeyardError(
                f"models alias --delete takes NAME ALIAS, not a version too (got {args.version!r} "
                f"and {args.alias!r})"
            )
        event = registry.delete_alias(args.name, args.version)
        if args.json:
            return event
        return f"alias {args.name}@{event['alias']} removed (was on version {event['from']})"
    if args.alias is None:
        raise SnakeyardError("models alias needs NAME VERSION ALIAS (or NAME ALIAS --delete)")
    version = parse_version(args.version, f"{args.name}:{args.version}")
    event = registry.set_alias(args.name, version, args.alias)
    number = registry.get_model(args.name, f"@{args.alias}")["version"]
    if args.json:
        return event or {"alias": args.alias, "to": number, "unchanged": True}
    if event is None:
        return f"alias {args.name}@{args.alias} already points at version {number}"
    moved = f"moved from version {event['from']} to" if event["from"] else "set on version"
    return f"alias {args.name}@{args.alias} {moved} {event['to']}"


def models_tag(registry: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.ref, "model name")
    event = registry.tag_model(name, version, key_values(args.tags, "tag"), args.remove)
    if args.json:
        return event
    return f"model {name}:{event['version']}: {describe_event(event)}"


def models_describe(registry: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.ref, "model name")
    event = registry.describe_model(name, version, args.text)
    return event if args.json else f"model {name}:{event['version']}: {describe_event(event)}"


def lifecycle_verb(kind: str, verb: str) -> Any:
    """The command of ``models|datasets archive|restore|delete NAME:N``: ``kind`` is
    ``model`` or ``dataset``, and the Registry method ``<verb>_<kind>`` does the work."""

    def command(registry: Registry, args: argparse.Namespace) -> Any:
        name, number = version_number(args.ref, f"{kind} name")
        options = {"force": True} if getattr(args, "force", False) else {}
        event = getattr(registry, f"{verb}_{kind}")(name, number, **options)
        if args.json:
            return event
        return f"{kind} {name}:{number} {describe_event(event)}"

    return command


def models_download(registry: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.ref, "model name")
    dest = registry.download_model(name, version, args.dest)
    meta = registry.get_model(name, version)
    if args.json:
        return {"name": name, "version": meta["version"], "dest": str(dest)}
    files = plural(len(meta["files"]), "file")
    return f"model {name}:{meta['version']} ({files}, sha256 checked) -> {dest}"


def key_values(items: list[str], option: str) -> dict[str, str]:
    """``KEY=VALUE`` arguments as a dict."""
    tags = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SnakeyardError(f"invalid {option} {item!r}: use KEY=VALUE")
        tags[key] = value
    return tags


def models_register(registry: Registry, args: argparse.Namespace) -> Any:
    tags = key_values(args.tag, "--tag")
    signature = None
    if args.sample_input:
        from .serving.signature import signature_of_file

        signature = signature_of_file(args.path, args.sample_input)
    meta = registry.register_model(
        args.name,
        args.path,
        framework=args.framework,
        framework_version=args.framework_version,
        description=args.description,
        tags=tags,
        signature=signature,
    )
    if args.json:
        return meta
    state = "registered" if meta["new"] else "already registered (identical content)"
    return f"model {meta['name']}:{meta['version']} {state}"


def models_serve(registry: Registry, args: argparse.Namespace) -> Any:
    from .serving.server import ServeSpec, serve

    spec = ServeSpec(str(registry.root), args.ref, entry_script=args.entry_script)
    serve(spec, args.host, args.port, args.workers)
    return "server stopped"


def serve_bundle(registry: Registry, args: argparse.Namespace) -> Any:
    from .serving.server import ServeSpec, serve

    serve(ServeSpec(bundle=args.bundle, entry_script=args.entry_script),
          args.host, args.port, args.workers)  # fmt: skip
    return "server stopped"


def models_export(registry: Registry, args: argparse.Namespace) -> Any:
    from .serving.export import export_model

    meta = export_model(registry, args.ref, args.dest, args.format)
    if args.json:
        return meta
    return f"model {meta['name']}:{meta['version']} exported in {args.format} format -> {args.dest}"


# -------------------------------------------------------------------- datasets
def datasets_list(registry: Registry, args: argparse.Namespace) -> Any:
    rows = registry.list_datasets(include_hidden=args.all)
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
    if args.history:
        return history(registry, "dataset", name, version, args.json)
    d = registry.get_dataset(name, version)
    if args.json:
        return d
    return fields([
        ("dataset", f"{d['name']}:{d['version']}"),
        ("created", d["created"]),
        *state_fields(d)[1:],
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
    skipped: list[str] = []
    # the table needs only the fields before each line's JSON: a third of the memory
    heads = not args.json and not args.sort
    # in start order, only the listed runs need their summary checked (a stat each)
    window = args.limit is not None and not args.sort and not args.status
    limit = count(args.limit, "--limit") if window else None
    lines = registry.run_lines(args.experiment, skipped, heads, limit, args.reverse)
    warn_skipped(skipped)
    if args.status:
        if args.status.lower() not in ("completed", "failed", "canceled", "running", "lost"):
            raise SnakeyardError(
                f"invalid --status {args.status!r}: use Completed, Failed, Canceled, Running "
                "or Lost"
            )
        lines = [line for line in lines if line.split("\t", 3)[2].lower() == args.status.lower()]
    if args.sort:
        lines = lines_by_metric(lines, args.sort, args.ascending)
    elif args.reverse:
        lines.reverse()
    if args.limit is not None:
        lines = lines[: count(args.limit, "--limit")]
    if args.json:
        return Pieces(json_pieces(lines))
    if not lines:
        return "no runs" + (f" of experiment {args.experiment!r}" if args.experiment else "")
    # a Lost run is never summarised in the index: its line is rare, and found by text
    lost = sum(line.split("\t", 3)[2] == "Lost" for line in lines if "\tLost\t" in line)
    footer = "" if not lost else (
        f"{plural(lost, 'run')} Lost (process gone, no final record): "
        "`snakeyard runs settle RUN_ID` records one as Failed"
    )
    if args.sort:
        return "\n".join(filter(None, [runs_by_metric(list(summaries(lines)), args.sort), footer]))
    # the lines' fields (index.HEAD: start, id, status, stamp, experiment, exit code,
    # seconds, host, metrics) in the table's order
    columns = {"RUN": 1, "EXPERIMENT": 4, "STATUS": 2, "EXIT": 5, "START": 0, "SECONDS": 6,
               "HOST": 7, "METRICS": 8}  # fmt: skip
    return Pieces(long_table(list(columns), lines, list(columns.values()), footer))


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
    from .sweeps.ranking import metric_value, tie_break

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
    headers: list[str], lines: list[str], fields: list[int], footer: str = "",
    per_piece: int = 5000,
) -> Iterator[str]:
    """:func:`table` of many rows, a piece at a time: each of ``lines`` is a row's
    tab-separated fields, of which the table shows ``fields`` under ``headers``.

    Each line is split twice, once for the columns' widths and once to print it, so
    that no row is kept in between; both passes run as C loops (``map``) over a few
    thousand lines at a time, so no Python code runs per row (100,000 runs' table).
    """
    widths = [len(h) for h in headers]  # the last column's is not needed: not padded
    for start in range(0, len(lines), per_piece):
        rows = list(map(str.split, lines[start : start + per_piece], repeat("\t")))
        widths = [
            max(width, *map(len, map(itemgetter(field), rows)))
            for width, field in zip(widths[:-1], fields, strict=False)
        ] + widths[-1:]
    # "%-<width>s" each, the last unpadded; rows are stripped of trailing spaces, as
    # by table (printf-style: a third quicker than str.format here)
    row = "  ".join([*(f"%-{w}s" for w in widths[:-1]), "%s"])
    pick = itemgetter(*fields)
    yield "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    for start in range(0, len(lines), per_piece):
        cells = map(pick, map(str.split, lines[start : start + per_piece], repeat("\t")))
        yield "\n" + "\n".join(map(str.rstrip, map(row.__mod__, cells)))
    yield "".join("\n" + text for text in [footer] if text) + "\n"


def runs_by_metric(runs: list[dict[str, Any]], metric: str) -> str:
    """The runs ranked by one metric, with each sweep trial's parameter values."""
    from .sweeps.ranking import metric_value

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
    why = r.get("error") or r.get("canceled")
    return r["status"] + (f" ({why})" if why else "")


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
        *([("elapsed", f"{r['elapsed_seconds']} s " + (
            "until its last sign of life" if r["status"] == "Lost" else "so far"
        ))] if "elapsed_seconds" in r else []),  # fmt: skip
        ("host", (r["host"] or "-") + (f" (pid {r['pid']})" if r.get("pid") else "")),
        ("cluster job", cluster_job(r)),
        *([("distributed", distributed_summary(r))] if r.get("distributed") else []),
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
        *([("properties", r["properties"])] if r.get("properties") else []),
        *([("children", child_lines(r["children"]))] if r.get("children") else []),
        *([("sweep trials", " ".join(r["sweep_trials"]))] if r.get("sweep_trials") else []),
        ("images", {k: v["path"] for k, v in (r.get("images") or {}).items()}),
        ("uploads", {k: v["path"] for k, v in (r.get("uploads") or {}).items()}),
        ("outputs", file_lines(r["outputs"])),
        ("folder", r["folder"]),
    ])  # fmt: skip


class Finished(NamedTuple):
    """What a command that printed its own output (``runs logs``, ``runs watch``) ends
    with: its exit code, and a last line for stderr (none when empty)."""

    code: int
    message: str = ""


def runs_logs(registry: Registry, args: argparse.Namespace) -> Any:
    from .training.follow import EXIT_CODES, follow_log

    out = sys.stdout.buffer
    sys.stdout.flush()
    try:
        r = follow_log(registry, args.run_id, out, follow=args.follow)
    except KeyboardInterrupt:
        return Finished(130)
    if not args.follow:
        return Finished(0)
    return Finished(EXIT_CODES.get(r["status"], 1), f"run {r['id']}: {run_status(r)}")


def runs_watch(registry: Registry, args: argparse.Namespace) -> Any:
    from .training.follow import clear_screen, sweep_lines, watch, watch_rows

    if not args.interval > 0:
        raise SnakeyardError(f"invalid --interval {args.interval:g}: use seconds above 0")
    if not args.grace >= 0:
        raise SnakeyardError(f"invalid --grace {args.grace:g}: use seconds, 0 or more")
    if args.timeout is not None and not args.timeout >= 0:
        raise SnakeyardError(f"invalid --timeout {args.timeout:g}: use seconds, 0 or more")
    clear = clear_screen(sys.stdout)

    def draw(runs: list[dict[str, Any]]) -> None:
        if args.json:
            print(json_text(runs, indent=None), flush=True)
            return
        shown = table(
            ["RUN", "STATUS", "SECONDS", "HOST", "TRIAL", "LATEST"],
            watch_rows(runs, args.metric),
        ) if runs else "no running or recently ended runs" + (
            f" of experiment {args.experiment!r}" if args.experiment else "")  # fmt: skip
        lines = sweep_lines(runs, args.metric, args.goal)
        stamp = time.strftime("%H:%M:%S")
        running = sum(r["status"] == "Running" for r in runs)
        text = "\n".join([f"{stamp}  {plural(running, 'run')} running", shown, *lines])
        print(("\x1b[H\x1b[2J" if clear else "") + text + ("" if clear else "\n"), flush=True)

    try:
        watch(registry, draw, experiment=args.experiment, interval=args.interval,
              timeout=args.timeout, grace=args.grace)  # fmt: skip
    except KeyboardInterrupt:
        return Finished(130)
    return Finished(0)


def runs_compare(registry: Registry, args: argparse.Namespace) -> Any:
    from .training.compare import compare_runs

    if len(set(args.run_ids)) < 2:
        raise SnakeyardError(
            f"runs compare needs two different runs or more, got {' '.join(args.run_ids)}"
        )
    compared = compare_runs([registry.get_run(run_id) for run_id in args.run_ids])
    if args.json:
        return compared
    def shown(field: str, value: Any) -> str:
        if value is None:
            return "-"
        # a hash, like git's short commit ids: enough to tell two apart
        return value[:12] if field in ("snapshot_hash", "git_commit") else short(value)

    rows = [
        ["*" if row["differs"] else "", row["field"],
         *[shown(row["field"], v) for v in row["values"]]]
        for row in compared["rows"]
    ]  # fmt: skip
    differ = sum(row["differs"] for row in compared["rows"])
    return (
        table(["", "FIELD", *compared["runs"]], rows)
        + f"\n* marks the {plural(differ, 'field')} whose values differ"
    )


def child_lines(children: list[dict[str, Any]]) -> dict[str, str]:
    """``{child id: "name: status, metrics, tags"}`` of a run's child runs."""
    return {
        c["id"]: f"{c['name']}: {c['status']}; metrics {short(c['metrics'])}"
        + (f"; tags {short(c['tags'])}" if c.get("tags") else "")
        for c in children
    }


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
        elif not label.startswith("history of "):
            versions += 1
        problems += found
    checked = f"{plural(versions, 'version')} and {plural(runs, 'run record')}"
    if args.json and not problems:
        return {"checked": versions, "runs": runs, "problems": []}
    if problems:
        raise SnakeyardError(f"{len(problems)} problem(s) in {checked}:\n" + "\n".join(problems))
    return f"checked {checked} in {registry.root}: every sha256 matches, nothing unlisted"


def gc(registry: Registry, args: argparse.Namespace) -> Any:
    from .registry.gc import collect_garbage

    found = collect_garbage(
        registry,
        dry_run=args.dry_run,
        runs_older_than=args.runs_older_than,
        keep_failed=args.keep_failed,
    )
    if args.json:
        return found
    removed = [g for g in found if "kept" not in g]
    freed = human_bytes(sum(g["bytes"] for g in removed))
    verb = "would remove" if args.dry_run else "removed"
    lines = [f"{verb} {g['kind']:<12} {human_bytes(g['bytes']):>10}  {g['path']}" for g in removed]
    lines += [f"kept {g['kind']:<12} {g['path']}: {g['kept']}" for g in found if "kept" in g]
    lines.append(f"{verb} {plural(len(removed), 'item')}, {freed} freed")
    return "\n".join(lines)


def count(text: str, option: str) -> int:
    """A whole number from 1, given to ``option``."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SnakeyardError(f"invalid {option} {text!r}: use a whole number from 1")
    return int(text)


def days(text: str) -> float:
    """A ``DAYS`` option: a number from 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid number of days {text!r}: use a number from 0")
    return value


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
    every = {"action": "store_true", "help": "archived and deleted versions too"}
    ascending = {"action": "store_true", "help": "with --sort: lowest first"}
    latest = verb(models, "list", models_list, "latest version of every model")
    latest.add_argument("--all", **every)
    sort_option(latest, "versions without a number under it")
    latest.add_argument("--ascending", **ascending)
    show = verb(models, "show", models_show, "one version: metrics, lineage, files")
    show.add_argument("ref", metavar="NAME[:VERSION|@ALIAS]", help=REF_HELP)
    show.add_argument(
        "--history", action="store_true", help="the moves of NAME@ALIAS, or a version's changes"
    )
    versions = verb(models, "versions", models_versions, "every version of one model")
    versions.add_argument("name", metavar="NAME", help="model name")
    versions.add_argument("--all", **every)
    sort_option(versions, "versions without a number under it")
    versions.add_argument("--ascending", **ascending)
    download = verb(models, "download", models_download, "copy a version's files to DEST")
    download.add_argument("ref", metavar="NAME[:VERSION|@ALIAS]", help=REF_HELP)
    download.add_argument("dest", metavar="DEST", help="new folder to copy the files into")
    register = verb(models, "register", models_register, "register a file or folder")
    register.add_argument("name", metavar="NAME", help="model name")
    register.add_argument("path", metavar="PATH", help="model file or folder to register")
    register.add_argument("--framework", default=None)
    register.add_argument("--framework-version", default=None)
    register.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    register.add_argument("--description", default="")
    alias = verb(models, "alias", models_alias, "set, move or remove (--delete) an alias")
    alias.add_argument("name", metavar="NAME", help="model name")
    alias.add_argument("version", metavar="VERSION", help="version number (or latest, @ALIAS)")
    alias.add_argument("alias", metavar="ALIAS", nargs="?", help="alias name, e.g. production")
    alias.add_argument("--delete", action="store_true", help="remove it: NAME ALIAS --delete")
    tag = verb(models, "tag", models_tag, "set or remove tags of a version")
    tag.add_argument("ref", metavar="NAME[:VERSION|@ALIAS]", help=REF_HELP)
    tag.add_argument("tags", metavar="KEY=VALUE", nargs="*", help="tags to set")
    tag.add_argument("--remove", action="append", default=[], metavar="KEY")
    describe = verb(models, "describe", models_describe, "replace a version's description")
    describe.add_argument("ref", metavar="NAME[:VERSION|@ALIAS]", help=REF_HELP)
    describe.add_argument("text", metavar="TEXT", help="the new description")
    register.add_argument(
        "--sample-input",
        default=None,
        metavar="FILE",
        help="a few rows (CSV with a header, or JSON {\"data\": [[...]]}): records the "
        "model's signature, the rest learnt by loading the model",
    )
    serving = verb(models, "serve", models_serve, "serve a version over HTTP")
    serving.add_argument(
        "ref",
        metavar="MODEL",
        help="NAME, NAME:VERSION or NAME@ALIAS",
    )
    serve_options(serving)
    export = verb(models, "export", models_export, "write a version in another tool's format")
    export.add_argument(
        "ref",
        metavar="MODEL",
        help="NAME, NAME:VERSION or NAME@ALIAS",
    )
    export.add_argument("dest", metavar="DEST", help="new folder to write the model into")
    export.add_argument("--format", required=True, choices=["mlflow"], help="mlflow")

    datasets = nouns.add_parser("datasets", help="data set versions").add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
    verb(datasets, "list", datasets_list, "latest version of every data set").add_argument(
        "--all", **every
    )
    shown = verb(datasets, "show", datasets_show, "one version: files, sizes, hashes")
    shown.add_argument(
        "ref",
        metavar="NAME[:VERSION]",
        help="data set NAME or NAME:VERSION; without a version, the latest",
    )
    shown.add_argument("--history", action="store_true", help="the version's changes")
    compare = verb(datasets, "diff", datasets_diff, "what changed between two versions")
    compare.add_argument("name", metavar="NAME", help="data set name")
    compare.add_argument("old", metavar="V1", help="version to compare from (a number, or latest)")
    compare.add_argument("new", metavar="V2", help="version to compare to (a number, or latest)")
    for noun_parsers, kind in ((models, "model"), (datasets, "dataset")):
        for name, text in (
            ("archive", "hide a version from latest and lists (it stays loadable)"),
            ("restore", "bring an archived version back"),
            ("delete", "remove a version's files, keep its record (its number is never reused)"),
        ):
            command = verb(noun_parsers, name, lifecycle_verb(kind, name), text)
            command.add_argument("ref", metavar="NAME:N", help="name and version number")
            if kind == "model" and name == "delete":
                command.add_argument(
                    "--force", action="store_true", help="also remove the aliases pointing at it"
                )

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
    listing.add_argument("--status", default=None,
                         help="Completed, Failed, Canceled, Running or Lost")
    order = listing.add_mutually_exclusive_group()
    sort_option(order, "runs not Completed or without a number under it")
    order.add_argument("--reverse", action="store_true", help="newest first (not with --sort)")
    listing.add_argument("--ascending", **ascending)
    listing.add_argument(
        "--limit", default=None, metavar="N", help="at most N runs, after filtering and sorting"
    )
    verb(runs, "show", runs_show, "one run's record").add_argument(
        "run_id", metavar="RUN_ID", help="run id, e.g. sklearn-iris_1795524285_9d28c5b6"
    )
    logs = verb(runs, "logs", runs_logs, "the script's output (stdout and stderr)")
    logs.add_argument("run_id", metavar="RUN_ID", help="run id")
    logs.add_argument(
        "--follow", "-f", action="store_true",
        help="keep printing until the run ends, then exit with its status "
        "(0 Completed, 1 Failed, 3 Lost)",
    )  # fmt: skip
    watching = verb(runs, "watch", runs_watch, "running and recently ended runs, redrawn")
    watching.add_argument("--experiment", default=None)
    watching.add_argument(
        "--metric", default=None, help="metric to show (default: each run's first number)"
    )
    watching.add_argument(
        "--goal", choices=["maximize", "minimize"], default="maximize",
        help="which way is better, for a sweep's best so far",
    )  # fmt: skip
    watching.add_argument("--interval", type=float, default=3.0, help="seconds between redraws")
    watching.add_argument(
        "--timeout", type=float, default=None, help="stop after this many seconds"
    )
    watching.add_argument(
        "--grace", type=float, default=GRACE_SECONDS, metavar="SECONDS",
        help="once no run is running, wait this long for the next one before ending",
    )  # fmt: skip
    comparing = verb(runs, "compare", runs_compare, "runs side by side, differences marked")
    comparing.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="two run ids or more")
    settle = verb(runs, "settle", runs_settle, "record a Lost run as Failed")
    settle.add_argument(
        "run_id", metavar="RUN_ID", help="run id, e.g. sklearn-iris_1795524285_9d28c5b6"
    )
    settle.add_argument(
        "--force",
        action="store_true",
        help="settle it although its process looks alive (a node the check cannot see)",
    )

    bundle = nouns.add_parser(
        "serve", parents=[common], help="serve a deployment bundle (no registry needed)"
    )
    bundle.set_defaults(function=serve_bundle)
    bundle.add_argument("--bundle", required=True, metavar="DIR", help="deployment bundle folder")
    serve_options(bundle)

    check = nouns.add_parser(
        "verify", parents=[common], help="check every sha256, path and file in the registry"
    )
    check.set_defaults(function=verify)

    collect = nouns.add_parser(
        "gc", parents=[common], help="remove what no live version, alias or running run needs"
    )
    collect.set_defaults(function=gc)
    collect.add_argument("--dry-run", action="store_true", help="list it, remove nothing")
    collect.add_argument(
        "--runs-older-than", type=days, default=30, metavar="DAYS",
        help="remove work folders of runs ended more than DAYS ago (default 30)",
    )  # fmt: skip
    collect.add_argument(
        "--keep-failed", type=days, default=None, metavar="DAYS",
        help="keep failed and lost runs' work folders this long (default: --runs-older-than)",
    )  # fmt: skip
    index = nouns.add_parser("index", help="the registry's listing index").add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
    verb(index, "rebuild", index_rebuild, "write the listing index afresh from the folders")
    return top


def sort_option(command: Any, what: str) -> None:
    """The ``--sort METRIC`` of a listing (``command`` a parser or a group of options)."""
    command.add_argument(
        "--sort", default=None, metavar="METRIC",
        help=f"highest METRIC first (the last value of a list); {what} last",
    )  # fmt: skip


def serve_options(command: argparse.ArgumentParser) -> None:
    """The options of every command that starts a server."""
    command.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    command.add_argument("--port", type=int, default=5001, help="port (5001)")
    command.add_argument("--workers", type=int, default=1, help="server processes (1)")
    command.add_argument(
        "--entry-script",
        default=None,
        metavar="FILE",
        help="a hosted-ML entry script (init(), run(raw_data)) to answer /score with",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``snakeyard`` command; returns the exit code."""
    command = parser()
    args = command.parse_args(argv)
    args.json = getattr(args, "json", False)
    if getattr(args, "ascending", False) and not getattr(args, "sort", None):
        command.error("--ascending turns a --sort ranking: give --sort METRIC too")
    if getattr(args, "sort", None) is not None and not args.sort.strip():
        command.error("--sort needs a metric's name: --sort METRIC")
    try:
        registry = Registry(getattr(args, "registry", None))
        if args.function not in (models_register, serve_bundle) and not registry.root.is_dir():
            raise SnakeyardError(
                f"no registry at '{resolved(registry.root, 'registry')}' (choose one with "
                "--registry PATH or $SNAKEYARD_REGISTRY)"
            )
        result = args.function(registry, args)
    except (SnakeyardError, OSError) as error:
        print(f"snakeyard: error: {error}", file=sys.stderr)
        return 1
    if isinstance(result, Finished):  # it printed its own output
        if result.message:
            print(f"snakeyard: {result.message}", file=sys.stderr)
        return result.code
    try:
        # one write of the whole text: json.dump would write it in thousands of pieces
        if isinstance(result, Pieces):
            for piece in result.pieces:
                sys.stdout.write(piece)
        elif args.json:
            sys.stdout.write(json_text(result) + "\n")
        else:
            sys.stdout.write(f"{result}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader (head, less) went away; that is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
