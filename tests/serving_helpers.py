"""A real `snakeyard` server (or `mlflow models serve`) on a free loopback port, started
and stopped by the test, with bounded waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SRC = str(Path(__file__).resolve().parent.parent / "src")
START_TIMEOUT = 120  # seconds; imports are slow on a loaded machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A server process; ``url`` once it answers ``ready_path``."""

    def __init__(self, command: list[str], port: int, cwd: Path, ready_path: str):
        environment = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        # a file, not a pipe: a server logging one line per request never blocks on it
        self.log_file = cwd / f"server-{port}.log"
        with open(self.log_file, "w") as log:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"server not ready in {START_TIMEOUT} s:\n{self.log()}")

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_file.read_text(errors="replace")

    def stop(self) -> str:
        """Stop the server (SIGINT, then SIGKILL of its group); return what it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        return self.log()


def snakeyard_server(cwd: Path, *args: str) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "snakeyard", *args, "--port", str(port)]
    return Server(command, port, cwd, "/v2/health/ready")
