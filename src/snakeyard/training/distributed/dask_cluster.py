"""The Dask cluster of one run: ``python -m snakeyard.training.distributed.dask_cluster``.

Run by the train stage with the environment's interpreter (the cluster must unpickle
what the script's estimators send it, so it runs the script's packages), in one of
three roles:

- ``local``: a ``distributed.LocalCluster`` (scheduler here, worker processes under it),
  for a run on this machine;
- ``scheduler``: the scheduler alone, on the first node of a Slurm allocation;
- ``worker``: one worker per Slurm task, started with ``srun`` through dask-jobqueue's
  ``SLURMRunner``, which finds the scheduler through the scheduler file.

The scheduler keeps the run's view of the cluster in a state file (JSON): its address
and dashboard, every worker (name, host, threads, memory limit, pid, tasks it ran) and
every worker that left before the stage asked the cluster to stop, which the stage
reports as a died worker. A task whose worker dies is not retried
(``distributed.scheduler.allowed-failures`` is 0), so the script fails at once with
Dask's ``KilledWorker`` instead of going on with fewer workers.

SIGTERM (from the stage) closes the cluster after a last write of the state file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
from typing import Any

import dask
from distributed import LocalCluster, Scheduler
from distributed.diagnostics.plugin import SchedulerPlugin

# a dead worker's task fails its computation instead of moving to another worker
dask.config.set({"distributed.scheduler.allowed-failures": 0})


def write_state(path: str, state: dict[str, Any]) -> None:
    """Replace the state file at once: readers never see half of it."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)
    os.replace(temporary, path)


def host_name(worker: object = None) -> str:
    """The name of the machine this runs on; each worker sends its own when it joins
    (``startup_information``), as an address such as 192.0.2.2 may have no name in DNS."""
    return socket.gethostname()


# what every worker tells the scheduler about itself when it joins
STARTUP_INFORMATION = {"hostname": host_name}


class RunState(SchedulerPlugin):
    """Keeps the state file: the workers, the tasks each ran, the workers that died."""

    name = "snakeyard-run-state"

    def __init__(self, path: str):
        self.path = path
        self.stopping = False
        self.scheduler: Scheduler | None = None
        self.state: dict[str, Any] = {"workers": {}, "died": []}

    async def start(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        port = scheduler.http_server.port if scheduler.http_server else None
        host = scheduler.address.split("://")[-1].rsplit(":", 1)[0]
        self.state["scheduler"] = scheduler.address
        # served while the run is alive (the /status pages need bokeh installed)
        self.state["dashboard"] = f"http://{host}:{port}/status" if port else None
        for address in scheduler.workers:  # those that came before this plugin
            self.add_worker(scheduler, address)
        self.save()

    def add_worker(self, scheduler: Scheduler, worker: str) -> None:
        ws = scheduler.workers[worker]
        self.state["workers"][worker] = {
            "name": str(ws.name),
            "host": ws.extra.get("hostname") or ws.host,
            "threads": ws.nthreads,
            "memory_limit": ws.memory_limit,
            "pid": ws.pid,
            "tasks": 0,
        }
        self.save()

    def remove_worker(self, scheduler: Scheduler, worker: str, **kwargs: Any) -> None:
        if not self.stopping:
            seen = self.state["workers"].get(worker, {})
            self.state["died"].append(
                {"address": worker, "name": seen.get("name"), "host": seen.get("host")}
            )
        self.save()

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if start == "processing" and finish == "memory":
            seen = self.state["workers"].get(kwargs.get("worker"))
            if seen is not None:
                seen["tasks"] += 1

    def save(self) -> None:
        write_state(self.path, self.state)


async def _until_stopped() -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()


async def run_local(args: argparse.Namespace) -> None:
    """A LocalCluster of ``args.processes`` worker processes, until SIGTERM."""
    plugin = RunState(args.state)
    async with LocalCluster(
        n_workers=args.processes,
        threads_per_worker=args.threads,
        memory_limit=f"{args.memory_mb}MB" if args.memory_mb else "auto",
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"scheduler_file": args.scheduler_file},
        startup_information=STARTUP_INFORMATION,  # passed on to each worker
        asynchronous=True,
    ) as cluster:
        await cluster.scheduler.register_scheduler_plugin(plugin, idempotent=False)
        await _until_stopped()
        plugin.stopping = True
        plugin.save()


async def run_scheduler(args: argparse.Namespace) -> None:
    """The scheduler alone, on this node's address, until SIGTERM."""
    plugin = RunState(args.state)
    async with Scheduler(
        port=0, dashboard_address=":0", scheduler_file=args.scheduler_file
    ) as scheduler:
        await scheduler.register_scheduler_plugin(plugin, idempotent=False)
        await _until_stopped()
        plugin.stopping = True
        plugin.save()


def run_worker(args: argparse.Namespace) -> None:
    """One worker of an ``srun`` step: dask-jobqueue's runner for an existing allocation.

    Every task of the step is a worker (the scheduler runs outside the step, the client
    is the training script), named after its Slurm rank.
    """
    from dask_jobqueue.slurm import SLURMRunner

    memory = f"{args.memory_mb}MB" if args.memory_mb else "auto"
    SLURMRunner(
        scheduler=False,
        client=False,
        scheduler_file=args.scheduler_file,
        worker_options={
            "nthreads": args.threads,
            "memory_limit": memory,
            "startup_information": STARTUP_INFORMATION,
        },
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dask_cluster", description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=("local", "scheduler", "worker"))
    parser.add_argument("--scheduler-file", required=True)
    parser.add_argument("--state", help="the state file (local and scheduler)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-mb", type=int, default=0)
    args = parser.parse_args(argv)
    if args.role == "worker":
        run_worker(args)
    elif args.role == "local":
        asyncio.run(run_local(args))
    else:
        asyncio.run(run_scheduler(args))


if __name__ == "__main__":
    main()
