"""The web app of ``models serve``: the hosted no-code contract and the Open Inference
Protocol (KServe V2 REST) over one loaded model, built on FastAPI.

- ``POST /score`` ``{"data": [[...]], "method": "predict" | "predict_proba"}`` → a JSON
  list (with an entry script: ``run(body)``'s answer);
- ``GET /v2/health/live``, ``GET /v2/health/ready``, ``GET /v2``, ``GET /v2/models/NAME``
  (and ``/versions/V``), ``GET /v2/models/NAME/ready``, ``POST /v2/models/NAME/infer``;
- ``GET /openapi.json`` and ``/docs``.

Every request is checked before the model sees it; a bad one gets a 4xx answer
``{"error": "<one line>"}``. One log line per request: method, path, status, latency.
"""

from __future__ import annotations

import json
import logging
import time
from types import ModuleType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import SnakeyardError
from .entry_script import run_entry_script
from .loading import LoadedModel
from .predict import infer, model_metadata, score
from .signature import BadInput

log = logging.getLogger("snakeyard.serve")

SCORE_BODY = {
    "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "method": {"type": "string", "enum": ["predict", "predict_proba"]},
        },
    }}},
    "required": True,
}  # fmt: skip
INFER_BODY = {
    "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": {"type": "object", "required":
                       ["name", "shape", "datatype", "data"]}},
            "outputs": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        },
    }}},
    "required": True,
}  # fmt: skip


class NotServed(SnakeyardError):
    """A model name (or version) this server does not serve."""


def error(status: int, message: str) -> Response:
    """A 4xx/5xx answer whose body says what was wrong in one line."""
    return JSONResponse({"error": " ".join(message.split())}, status_code=status)


def ok(data: Any) -> Response:
    return Response(json.dumps(data), media_type="application/json")


async def json_body(request: Request) -> Any:
    """The request's body parsed as JSON; BadInput naming the problem otherwise."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError as problem:
        raise BadInput(f"the body is not valid JSON ({problem})") from problem
    except RecursionError as problem:
        # a deeply nested body exhausts the parser's stack: bad input, not a server fault
        raise BadInput("the body is not valid JSON (nested too deeply)") from problem


class RequestLog:
    """ASGI middleware: one line per request (method, path, status, milliseconds)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), [500]

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            took = (time.perf_counter() - start) * 1000
            log.info("%s %s %d %.2f ms", scope["method"], scope["path"], status[0], took)


def create_app(loaded: LoadedModel, entry: ModuleType | None = None) -> Any:
    """The ASGI app serving ``loaded`` (through ``entry``'s ``run`` when given)."""
    title = f"snakeyard: model {loaded.name}:{loaded.version}"
    app = FastAPI(title=title, version=__version__)

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, problem: BadInput) -> Response:
        return error(400, str(problem))

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, problem: StarletteHTTPException) -> Response:
        # an unknown path (404) or method (405): the same {"error": ...} body as the rest
        message = f"{request.method} {request.url.path}: {problem.detail}"
        answer = error(problem.status_code, message)
        answer.headers.update(problem.headers or {})  # e.g. 405's Allow
        return answer

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, problem: RequestValidationError) -> Response:
        first = problem.errors()[0] if problem.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error(422, f"invalid request: {where} {first.get('msg', '')}".strip())

    @app.exception_handler(Exception)
    async def unexpected(request: Request, problem: Exception) -> Response:
        # the answer says what failed in one line; the traceback stays out of it
        log.error("%s %s failed: %s: %s", request.method, request.url.path,
                  type(problem).__name__, problem)  # fmt: skip
        return error(500, f"{type(problem).__name__}: {problem}")

    @app.post("/score", openapi_extra={"requestBody": SCORE_BODY},
              summary="predictions for rows of features (hosted no-code contract)")  # fmt: skip
    async def post_score(request: Request) -> Response:
        if entry is not None:
            raw = (await request.body()).decode("utf-8", errors="replace")
            try:
                return ok(run_entry_script(entry, raw))
            except Exception as problem:  # the user's run() can raise anything
                # as the hosted service answers a failing run(): 502, with its message
                return error(502, f"entry script run() failed: {type(problem).__name__}: "
                                  f"{problem}")  # fmt: skip
        return ok(score(loaded, await json_body(request)))

    @app.get("/v2/health/live", summary="the server is up")
    async def live() -> Response:
        return ok({"live": True})

    @app.get("/v2/health/ready", summary="the model is loaded and answers")
    async def ready() -> Response:
        return ok({"ready": True})

    @app.get("/v2", summary="server metadata")
    async def server_metadata() -> Response:
        return ok({"name": "snakeyard", "version": __version__, "extensions": []})

    def known(name: str, version: str | None) -> None:
        if name != loaded.name or version not in (None, str(loaded.version)):
            asked = name if version is None else f"{name} version {version}"
            raise NotServed(f"model {asked} is not served here; this server serves "
                            f"{loaded.name} version {loaded.version}")  # fmt: skip

    @app.exception_handler(NotServed)
    async def not_served(request: Request, problem: NotServed) -> Response:
        return error(404, str(problem))

    @app.get("/v2/models/{name}", summary="model metadata (from its signature)")
    @app.get("/v2/models/{name}/versions/{version}", summary="model metadata")
    async def metadata(name: str, version: str | None = None) -> Response:
        known(name, version)
        return ok(model_metadata(loaded))

    @app.get("/v2/models/{name}/ready", summary="the model is ready")
    @app.get("/v2/models/{name}/versions/{version}/ready", summary="the model is ready")
    async def model_ready(name: str, version: str | None = None) -> Response:
        known(name, version)
        return ok({"name": name, "ready": True})

    @app.post("/v2/models/{name}/infer", openapi_extra={"requestBody": INFER_BODY},
              summary="inference (Open Inference Protocol)")  # fmt: skip
    @app.post("/v2/models/{name}/versions/{version}/infer",
              openapi_extra={"requestBody": INFER_BODY}, summary="inference")  # fmt: skip
    async def post_infer(request: Request, name: str, version: str | None = None) -> Response:
        known(name, version)
        return ok(infer(loaded, await json_body(request)))

    app.add_middleware(RequestLog)
    return app
