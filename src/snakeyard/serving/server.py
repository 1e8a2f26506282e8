"""Start uvicorn on the app of one model: ``snakeyard models serve`` and ``snakeyard
serve --bundle``.

The model is checked and loaded in this process before uvicorn starts, so a damaged
artifact or a failing ``init()`` stops the command with one line and nothing listens.
With ``--workers`` above 1, uvicorn starts that many processes, each of which loads the
model again from the same place (:func:`app_from_environment`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import SnakeyardError
from .loading import LoadedModel, from_bundle, from_registry

SPEC_VARIABLE = "SNAKEYARD_SERVE_SPEC"  # how the workers learn what to serve


@dataclass
class ServeSpec:
    """What to serve: a model reference in a registry, or a bundle folder."""

    registry: str | None = None
    ref: str | None = None
    bundle: str | None = None
    entry_script: str | None = None


def load(spec: ServeSpec) -> tuple[LoadedModel, Any]:
    """The checked model, and the entry script's module (initialised) when there is one."""
    entry_script = spec.entry_script
    if spec.bundle is not None:
        from .bundle import bundle_entry_script

        loaded = from_bundle(spec.bundle)
        # a bundle deployed with an entry script serves through it unless told otherwise
        entry_script = entry_script or bundle_entry_script(Path(spec.bundle))
    else:
        from ..registry.registry import Registry

        loaded = from_registry(Registry(spec.registry), spec.ref)
    entry = None
    if entry_script:
        from .entry_script import load_entry_script

        entry = load_entry_script(entry_script, loaded)
    elif not callable(getattr(loaded.model, "predict", None)):
        # without an entry script every request calls predict: refuse rather than 400 each
        raise SnakeyardError(
            f"model {loaded.name}:{loaded.version} cannot be served: its "
            f"{type(loaded.model).__name__} object has no predict method"
        )
    return loaded, entry


def app_from_environment() -> Any:
    """The app a uvicorn worker process serves (the spec comes in SNAKEYARD_SERVE_SPEC)."""
    from .app import create_app

    configure_logging()  # a worker is a new interpreter: its request lines need a handler
    loaded, entry = load(ServeSpec(**json.loads(os.environ[SPEC_VARIABLE])))
    return create_app(loaded, entry)


def configure_logging() -> None:
    """Request lines and start-up messages to stderr, with the time."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)


def check_port(port: int) -> int:
    if not 0 <= port <= 65535:
        raise SnakeyardError(f"invalid --port {port}: use a number from 0 to 65535")
    return port


def check_listen(host: str, port: int) -> None:
    """Refuse a host and port this process cannot listen on, before anything is printed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        raise SnakeyardError(f"cannot listen on {host}:{port}: {error}") from error
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # as uvicorn binds: SO_REUSEADDR, so a port in TIME_WAIT is not refused
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            reason = error.strerror or str(error)
            raise SnakeyardError(f"cannot listen on {host}:{port}: {reason.lower()}") from error


def serve(spec: ServeSpec, host: str, port: int, workers: int) -> None:
    """Load the model (refusing a damaged one), then serve it until stopped."""
    check_port(port)
    if workers < 1:
        raise SnakeyardError(f"invalid --workers {workers}: use 1 or more")
    try:
        import uvicorn

        from .app import create_app
    except ImportError as error:
        raise SnakeyardError(
            f"serving needs FastAPI and uvicorn ({error}); pip install 'snakeyard[serve]'"
        ) from error
    check_listen(host, port)
    loaded, entry = load(spec)
    configure_logging()
    logging.getLogger("snakeyard.serve").info(
        "serving model %s:%s%s on http://%s:%d (%d worker%s)", loaded.name, loaded.version,
        f" through {spec.entry_script}" if spec.entry_script else "", host, port, workers,
        "" if workers == 1 else "s",
    )  # fmt: skip
    # our own line per request replaces uvicorn's access log
    options = {"host": host, "port": port, "access_log": False, "log_level": "info"}
    if workers == 1:
        uvicorn.run(create_app(loaded, entry), **options)
        return
    os.environ[SPEC_VARIABLE] = json.dumps(asdict(spec))
    uvicorn.run("snakeyard.serving.server:app_from_environment", factory=True,
                workers=workers, **options)  # fmt: skip
