"""Data benchmarks of snakeyard: uploads into the folder datastore, and MNIST at full size.

Run from the repository root::

    python benchmarks/data.py            # 1 GiB of files and full-size MNIST; ~10 minutes
    python benchmarks/data.py --quick    # 64 MiB and a 7,000-image MNIST, a smoke check
    python benchmarks/data.py --only upload  # figures 1 and 2 alone

Figures go to ``benchmarks/results/data.json`` and ``benchmarks/results/data.md`` and
are printed at the end. Everything runs in a temporary folder (``--tmp`` chooses its
parent, default the system's), removed at the end unless ``--keep``. Nothing here
asserts on time. See ``benchmarks/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from core import summary

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
AIM_UPLOAD_RATIO = 0.8  # our throughput / cp -r throughput, at least
AIM_REUPLOAD_RATIO = 1.2  # re-upload time / hashing time, at most

FULL = {"bytes": 1 << 30, "file_bytes": 512 << 10, "rounds": 5, "train": 60_000, "test": 10_000}
QUICK = {"bytes": 64 << 20, "file_bytes": 256 << 10, "rounds": 2, "train": 6_000, "test": 1_000}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEYARD_")}
    return {**env, **extra}


def sync() -> None:
    """Flush dirty pages so one measurement's writes do not slow the next one."""
    os.sync()


def disk_usage(folder: Path) -> int:
    """Bytes of disk the folder's files use, hard links counted once (``du -s``)."""
    done = subprocess.run(
        ["du", "-s", "--block-size=1", str(folder)], capture_output=True, text=True
    )
    return int(done.stdout.split()[0])


# --------------------------------------------------------- 1 and 2: uploads
def write_tree(root: Path, total: int, file_bytes: int) -> int:
    """``total`` bytes of random data in files of ``file_bytes`` over 16 folders."""
    count = total // file_bytes
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"part-{i % 16:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"chunk-{i:05d}.bin").write_bytes(rng.bytes(file_bytes))
    return count


def upload_figures(work: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """Upload vs ``cp -r``; re-upload vs hashing alone."""
    from snakeyard.files import manifest_of
    from snakeyard.registry.registry import Registry

    source = work / "source"
    print(f"[upload] writing {sizes['bytes'] >> 20} MiB of files ...", flush=True)
    count = write_tree(source, sizes["bytes"], sizes["file_bytes"])
    total = sizes["bytes"]
    manifest = manifest_of(source)
    files = [str(source / entry["path"]) for entry in manifest]

    copies, uploads, uploads_hashing = [], [], []
    for round_ in range(sizes["rounds"]):
        print(f"[upload] round {round_ + 1}: cp -r, upload, upload with hashing ...", flush=True)
        target = work / f"cp-{round_}"
        sync()
        start = time.perf_counter()
        subprocess.run(["cp", "-r", str(source), str(target)], check=True)
        sync()
        copies.append(time.perf_counter() - start)
        shutil.rmtree(target)

        # the upload stage: the manifest comes from fetch; every byte is copied and hashed
        registry = Registry(work / f"registry-{round_}")
        sync()
        start = time.perf_counter()
        meta = registry.upload_dataset("bench", source, manifest)
        sync()
        uploads.append(time.perf_counter() - start)
        assert meta["report"].written_bytes == total
        shutil.rmtree(work / f"registry-{round_}")

        # Registry.upload_dataset(name, folder) without a manifest: hashes first
        registry = Registry(work / f"registry-h-{round_}")
        sync()
        start = time.perf_counter()
        registry.upload_dataset("bench", source)
        sync()
        uploads_hashing.append(time.perf_counter() - start)
        if round_ < sizes["rounds"] - 1:
            shutil.rmtree(work / f"registry-h-{round_}")

    kept = Registry(work / f"registry-h-{sizes['rounds'] - 1}")
    datastore = kept.root / "datastore"
    used_before = disk_usage(datastore)
    # interleaved round by round, so that a change of machine load affects each alike
    hashing, sha256sum, reuploads, written = [], [], [], []
    for round_ in range(sizes["rounds"]):
        print(f"[upload] round {round_ + 1}: hashing, sha256sum, re-upload ...", flush=True)
        start = time.perf_counter()
        manifest_of(source)
        hashing.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(["sha256sum", *files], check=True, stdout=subprocess.DEVNULL)
        sha256sum.append(time.perf_counter() - start)
        start = time.perf_counter()
        meta = kept.upload_dataset("bench", source)  # hashes every file, then finds the version
        reuploads.append(time.perf_counter() - start)
        written.append(meta["report"].written_bytes)
        assert not meta["new"]
    # a new version that shares all files but one
    (source / "part-00" / "chunk-00000.bin").write_bytes(b"changed")
    start = time.perf_counter()
    changed = kept.upload_dataset("bench", source)
    one_changed = time.perf_counter() - start
    used_after = disk_usage(datastore)

    cp_median = statistics.median(copies)
    return {
        "files": count,
        "file_bytes": sizes["file_bytes"],
        "total_bytes": total,
        "cp_r": summary(copies),
        "upload_with_manifest": summary(uploads),
        "upload_hashing_first": summary(uploads_hashing),
        "hash_python": summary(hashing),
        "hash_sha256sum": summary(sha256sum),
        "reupload_unchanged": summary(reuploads),
        "reupload_bytes_written": written,
        "datastore_bytes_before_reuploads": used_before,
        "new_version_one_file_changed": {
            "seconds": one_changed,
            "version": changed["version"],
            "bytes_written": changed["report"].written_bytes,
            "files_reused": changed["report"].reused_files,
            "datastore_bytes_after": used_after,
        },
        "ratios": {
            "upload_throughput_vs_cp": cp_median / statistics.median(uploads),
            "upload_hashing_first_throughput_vs_cp": cp_median / statistics.median(uploads_hashing),
            "reupload_vs_hash_python": statistics.median(reuploads) / statistics.median(hashing),
            "reupload_vs_sha256sum": statistics.median(reuploads) / statistics.median(sha256sum),
        },
    }


# ------------------------------------------------------------ 3: MNIST shape
def synthetic_mnist(folder: Path, train: int, test: int) -> dict[str, str]:
    """MNIST-shaped idx files (28 x 28 uint8) of ten learnable synthetic classes."""
    from snakeyard.data.idx import write_idx

    rng = np.random.default_rng(0)
    templates = rng.random((10, 28 * 28)) < 0.25  # each class lights its own pixels

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n).astype(np.uint8)
        noise = rng.integers(0, 96, (n, 28 * 28), dtype=np.uint8)
        lit = templates[labels] & (rng.random((n, 28 * 28)) < 0.7)
        return np.where(lit, 160, 0).astype(np.uint8) + noise, labels

    folder.mkdir(parents=True, exist_ok=True)
    sha = {}
    for part, n in (("train", train), ("t10k", test)):
        pixels, labels = images(n)
        for kind, array in (("images-idx3", pixels.reshape(n, 28, 28)), ("labels-idx1", labels)):
            name = f"{part}-{kind}-ubyte.gz"
            write_idx(folder / name, array)
            sha[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    return sha


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def mnist_figures(work: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """The MNIST example, served from loopback, from fetch to registered model."""
    files = work / "mnist-files"
    print(f"[mnist] writing {sizes['train'] + sizes['test']} synthetic images ...", flush=True)
    sha = synthetic_mnist(files, sizes["train"], sizes["test"])
    handler = functools.partial(QuietHandler, directory=str(files))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = yaml.safe_load((REPO / "config" / "examples" / "mnist.yaml").read_text())
        for entry in config["datasets"]["mnist"]["source"]:
            name = entry["url"].rsplit("/", 1)[1]
            entry["url"] = f"http://127.0.0.1:{server.server_port}/{name}"
            entry["sha256"] = sha[name]
        project = work / "mnist-project"
        project.mkdir()
        (project / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        command = [
            shutil.which("snakemake") or "snakemake", "-s", str(REPO / "Snakefile"),
            "--cores", "2", "--configfile", "config.yaml",
        ]  # fmt: skip
        print("[mnist] snakemake: fetch, upload, lock, train, collect, register ...", flush=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        done = subprocess.run(command, cwd=project, env=clean_env(), capture_output=True, text=True)
        wall = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    finally:
        server.shutdown()
        server.server_close()
    if done.returncode != 0:
        raise RuntimeError(f"snakemake failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    record = json.loads((project / "results/sklearn-mnist/run.json").read_text())
    bench = (project / "results/sklearn-mnist/train.benchmark.tsv").read_text().splitlines()
    train = dict(zip(bench[0].split("\t"), bench[1].split("\t"), strict=True))
    return {
        "images": sizes["train"] + sizes["test"],
        "download_bytes": sum((files / name).stat().st_size for name in sha),
        "wall_fetch_to_registered_s": wall,
        "peak_rss_mib_any_process": peak_kib / 1024 if peak_kib > before else None,
        "train_job_s": float(train["s"]),
        "train_job_max_rss_mib": float(train["max_rss"]),
        "training_script_s": record["duration_seconds"],
        "accuracy": record["metrics"]["accuracy"],
        "stage_logs": {
            stage: (project / f"logs/{stage}/{name}.log").read_text().splitlines()
            for stage, name in (("fetch", "mnist"), ("upload", "mnist"))
        },
    }


# -------------------------------------------------------------------- report
def markdown(report: dict[str, Any]) -> str:
    lines = [f"# snakeyard data benchmarks ({'quick' if report['quick'] else 'full size'})", ""]
    if "upload" in report:
        lines += upload_lines(report["upload"]) + [""]
    if "mnist" in report:
        lines += mnist_lines(report["mnist"]) + [""]
    lines.append(
        f"Machine: {report['environment']['cpus']} CPUs, load average at start "
        f"{report['environment']['load_start']}, at end {report['environment'].get('load_end')}."
    )
    return "\n".join(lines) + "\n"


def upload_lines(up: dict[str, Any]) -> list[str]:
    r = up["ratios"]
    size = f"{up['total_bytes'] / (1 << 30):.2f} GiB in {up['files']} files"
    rate = up["total_bytes"] / (1 << 20)
    lines = [
        f"Upload of {size} into the folder datastore, medians of {up['cp_r']['n']} rounds:",
        "",
        "| measurement | median | throughput |",
        "|---|---|---|",
    ]
    for label, key in (
        ("`cp -r` of the same files", "cp_r"),
        ("upload (manifest from fetch, as the upload stage)", "upload_with_manifest"),
        ("upload_dataset(name, folder), hashing first", "upload_hashing_first"),
        ("hashing alone (Python hashlib)", "hash_python"),
        ("hashing alone (`sha256sum`)", "hash_sha256sum"),
        ("re-upload of the unchanged files", "reupload_unchanged"),
    ):
        median = up[key]["median_s"]
        lines.append(f"| {label} | {median:.2f} s | {rate / median:.0f} MiB/s |")
    changed = up["new_version_one_file_changed"]
    return lines + [
        "",
        f"- upload throughput / `cp -r` throughput: **{r['upload_throughput_vs_cp']:.2f}** "
        f"(aim ≥ {AIM_UPLOAD_RATIO}); hashing first: "
        f"{r['upload_hashing_first_throughput_vs_cp']:.2f}",
        f"- re-upload time / hashing time: **{r['reupload_vs_hash_python']:.2f}** "
        f"(aim ≤ {AIM_REUPLOAD_RATIO}); vs `sha256sum`: {r['reupload_vs_sha256sum']:.2f}; "
        f"bytes written by the re-uploads: {up['reupload_bytes_written']}",
        f"- a new version with one file changed: {changed['seconds']:.2f} s, "
        f"{changed['bytes_written']} bytes written, {changed['files_reused']} files reused; "
        f"datastore on disk {up['datastore_bytes_before_reuploads'] / (1 << 20):.1f} MiB before, "
        f"{changed['datastore_bytes_after'] / (1 << 20):.1f} MiB after",
    ]


def mnist_lines(mn: dict[str, Any]) -> list[str]:
    return [
        f"MNIST-shaped experiment, {mn['images']:,} synthetic 28 x 28 uint8 images "
        f"({mn['download_bytes'] / (1 << 20):.1f} MiB gzipped, served on loopback):",
        "",
        "- fetch to registered model (whole `snakemake` run): "
        f"**{mn['wall_fetch_to_registered_s']:.1f} s**",
        f"- train job {mn['train_job_s']:.1f} s (script {mn['training_script_s']:.1f} s), "
        f"its peak memory {mn['train_job_max_rss_mib']:.0f} MiB; peak memory of any process "
        f"of the run: **{mn['peak_rss_mib_any_process'] or 0:.0f} MiB**; "
        f"accuracy {mn['accuracy']:.4f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke check")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the figures")
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the temporary folder")
    parser.add_argument(
        "--only",
        choices=["upload", "mnist"],
        default=None,
        help="run one group of figures: upload (figures 1 and 2) or mnist (figure 3)",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="snakeyard-data-bench-", dir=args.tmp))
    report: dict[str, Any] = {
        "quick": args.quick,
        "sizes": sizes,
        "environment": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "load_start": [round(x, 2) for x in os.getloadavg()],
        },
    }
    try:
        if args.only in (None, "upload"):
            report["upload"] = upload_figures(work, sizes)
            shutil.rmtree(work / "source")
        if args.only in (None, "mnist"):
            report["mnist"] = mnist_figures(work, sizes)
    finally:
        report["environment"]["load_end"] = [round(x, 2) for x in os.getloadavg()]
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "data.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / "data.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
