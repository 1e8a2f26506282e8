"""Real servers on loopback for the tests: HTTP with misbehaving paths, and S3 (moto)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FileServer:
    """An HTTP server on 127.0.0.1 serving ``files`` by path, with chosen misbehaviour.

    ``behaviour[path]`` is one of ``"drop"`` (sends half the body, then closes the
    connection, the first ``fail_times[path]`` requests), ``"503"`` (answers 503 the
    first ``fail_times[path]`` requests), ``"stall"`` (sends the headers and then
    nothing). ``requests`` counts the requests per path.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, str] = {}
        self.fail_times: dict[str, int] = {}
        self.requests: Counter[str] = Counter()
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests[self.path] += 1
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                behaviour = server.behaviour.get(self.path)
                failing = server.requests[self.path] <= server.fail_times.get(self.path, 0)
                if behaviour == "503" and failing:
                    self.send_error(503, "Service Unavailable")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if behaviour == "stall":
                    server.release.wait(30)
                    return
                if behaviour == "drop" and failing:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3Server:
    """moto's S3-protocol server as a subprocess on a free loopback port."""

    CREDENTIALS = {
        "AWS_ACCESS_KEY_ID": "snakeyard-test",
        "AWS_SECRET_ACCESS_KEY": "snakeyard-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def __init__(self, log: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = log

    def __enter__(self) -> S3Server:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited: {self.log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.process.kill()
        raise RuntimeError("moto server did not start within 30 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def client(self):  # noqa: ANN201 - boto3 client
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.CREDENTIALS}
