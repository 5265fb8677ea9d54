"""The ``cnnzoo serve`` web application: FastAPI (on Starlette) routes over :mod:`cnnzoo.serve.core`,
served by uvicorn.

Pages (one HTML file and its script and style, all served from the package, nothing from a CDN):
``/`` Draw, ``/anatomy`` Anatomy, ``/photo`` Photo, ``/api`` the JSON API's description. JSON API:

- ``GET  /api/info``: the loaded models, how to get a Draw model when none is loaded, limits.
- ``POST /api/draw`` (multipart ``image``, optional ``overlay`` none|saliency|gradcam): :func:`draw_record`.
- ``GET  /api/anatomy/{model}?input=CxHxW``: :func:`anatomy_record`.
- ``GET  /api/compare?models=a,b,c``: :func:`compare_record`.
- ``POST /api/photo`` (multipart ``image``): :func:`photo_record`.

Errors are JSON ``{"error": "one sentence"}`` with status 400 (a user's mistake), 404 (no such model loaded),
413 (upload too large). Model work runs in the server's thread pool (FastAPI runs ``def`` routes there), so a
slow request does not hold up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import CnnzooError
from . import core

STATIC = Path(__file__).with_name("static")
HOW_TO_TRAIN = (
    "No trained LeNet-5 found at runs/lenet5-digits/best.pt. Make one with `cnnzoo train lenet5` (about a "
    "minute on a laptop), then restart `cnnzoo serve` in the same folder; or start `cnnzoo serve "
    "CHECKPOINT` with any cnnzoo checkpoint, or `cnnzoo serve lenet5` to watch an untrained one."
)
HOW_TO_PHOTO = (
    "No pretrained model is loaded. Start the server with `--photo MODEL --photo-weights WEIGHTS`, e.g. "
    "`cnnzoo serve --photo resnet50 --photo-weights torchvision:resnet50.pth` (any weights that "
    "create_model(MODEL, weights=WEIGHTS) accepts)."
)


@dataclass
class ServeState:
    """What the server has loaded: the Draw model (or why not), the Photo model (or why not), limits."""

    draw: core.LoadedModel | None = None
    draw_message: str = HOW_TO_TRAIN
    photo: core.LoadedModel | None = None
    photo_message: str = HOW_TO_PHOTO
    max_upload_bytes: int = core.MAX_UPLOAD_BYTES


class UploadLimit:
    """ASGI middleware: refuse a request body over ``limit`` bytes with 413 before the application reads it.

    A body with a Content-Length is judged by it (the server's HTTP parser holds the client to it); a chunked
    body is read here up to ``limit`` bytes and then handed on (or refused as soon as it grows past it)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self._too_large(send)
            else:
                await self.app(scope, receive, send)
            return
        chunks, total, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body = msg.get("body", b"")
            total += len(body)
            if total > self.limit:
                await self._too_large(send)
                return
            chunks.append(body)
            more = msg.get("more_body", False)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        mib = self.limit / 2**20
        body = json.dumps(
            {"error": f"the upload is larger than this server's {mib:g} MiB limit; use a smaller image."}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read(image: UploadFile, limit: int) -> bytes:
    data = await image.read(limit + 1)
    if len(data) > limit:
        raise _TooLarge
    return data


def create_app(state: ServeState) -> FastAPI:
    """The application over ``state``. Interactive OpenAPI pages are off (they load from a CDN); the schema
    is at ``/api/openapi.json`` and the API is described at ``/api``."""
    app = FastAPI(
        title="cnnzoo serve",
        description="LeNet-5 thinking out loud, the anatomy of every cnnzoo model, photos through a "
        "pretrained CNN.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.serve = state
    app.add_middleware(UploadLimit, limit=state.max_upload_bytes)

    @app.exception_handler(CnnzooError)
    async def _cnnzoo_error(_req: Request, e: CnnzooError) -> JSONResponse:
        return _error(400, str(e))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "the request"
        return _error(400, f"{where}: {first.get('msg', 'invalid')}; see /api for what each endpoint takes.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, e: StarletteHTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail))

    @app.exception_handler(_TooLarge)
    async def _too_large(_req: Request, _e: _TooLarge) -> JSONResponse:
        return _error(
            413,
            f"the upload is larger than this server's {state.max_upload_bytes / 2**20:g} MiB "
            "limit; use a smaller image.",
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    for path in ("/", "/anatomy", "/photo", "/api"):
        app.add_api_route(path, page, include_in_schema=False)

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        """The loaded models (``draw``, ``photo``: model, source, input size, mean/std, classes, note, or
        null with a ``*_message`` saying how to get one), the registered model names and the upload limit."""
        from ..registry import list_models

        return {
            "draw": state.draw.describe() if state.draw else None,
            "draw_message": "" if state.draw else state.draw_message,
            "rbf_prototypes": core.rbf_prototypes_record(state.draw),
            "photo": state.photo.describe() if state.photo else None,
            "photo_message": "" if state.photo else state.photo_message,
            "models": list_models(),
            "compare_default": list(core.COMPARE_DEFAULT),
            "max_upload_bytes": state.max_upload_bytes,
            "overlays": list(core.OVERLAYS),
        }

    @app.post("/api/draw")
    async def draw(image: Annotated[UploadFile, File()], overlay: Annotated[str, Form()] = "none") -> Any:
        """Run a drawing (PNG/JPEG, any size; white ink on black or dark ink on white) through the Draw
        model: :func:`cnnzoo.serve.core.draw_record`."""
        if state.draw is None:
            return _error(404, state.draw_message)
        data = await _read(image, state.max_upload_bytes)
        # JSONResponse directly: FastAPI's generic encoder walks ~9,000 floats one by one (several ms)
        return JSONResponse(await run_in_threadpool(core.draw_record, state.draw, data, overlay))

    @app.post("/api/photo")
    async def photo(image: Annotated[UploadFile, File()]) -> Any:
        """Top-5 classes and Grad-CAM of a photo: :func:`cnnzoo.serve.core.photo_record`."""
        if state.photo is None:
            return _error(404, state.photo_message)
        data = await _read(image, state.max_upload_bytes)
        return JSONResponse(await run_in_threadpool(core.photo_record, state.photo, data))

    @app.get("/api/anatomy/{model}")
    async def anatomy(model: str, input: str | None = None) -> Any:  # noqa: A002 (the CLI's --input)
        """The per-layer table of a registered model (:func:`cnnzoo.serve.core.anatomy_record`), at its own
        input size or ``input`` = CxHxW."""
        return await run_in_threadpool(core.anatomy_record, model, input)

    @app.get("/api/compare")
    async def compare(models: str = ",".join(core.COMPARE_DEFAULT)) -> Any:
        """Totals of several registered models (comma-separated), as ``cnnzoo compare --json``'s rows."""
        names = [m.strip() for m in models.split(",") if m.strip()]
        if not names or len(names) > 24:
            return _error(400, "give 1 to 24 comma-separated model names in `models`.")
        return {"models": await run_in_threadpool(core.compare_record, names)}

    return app


def warm_up(state: ServeState) -> list[str]:
    """Answer one request of each kind before any user does (issue #30: a fresh server's first Anatomy answer
    took 3.9 s, its Photo answers 0.6 s): the Anatomy profile of the Draw model (or LeNet-5), the Compare
    table, and a blank image through the Draw and Photo models, which loads the modules those answers import
    and lets torch pick its kernels. Returns what was warmed; a failure here is left for the real request to
    report. :func:`run_server` runs it in a background thread at start-up."""
    import io

    from PIL import Image

    done: list[str] = []

    def blank(mode: str, side: int) -> bytes:
        buf = io.BytesIO()
        Image.new(mode, (side, side), 128).save(buf, format="PNG")
        return buf.getvalue()

    jobs = [
        ("anatomy", lambda: core.anatomy_record(state.draw.name if state.draw else "lenet5")),
        ("compare", lambda: core.compare_record(core.COMPARE_DEFAULT)),
    ]
    if state.draw is not None:
        jobs.append(("draw", lambda: core.draw_record(state.draw, blank("L", 64))))
    if state.photo is not None:
        jobs.append(("photo", lambda: core.photo_record(state.photo, blank("RGB", 256))))
    for what, job in jobs:
        try:
            job()
            done.append(what)
        except Exception:  # noqa: BLE001 - warming is best effort; the request itself reports errors
            pass
    return done


def run_server(state: ServeState, host: str = "127.0.0.1", port: int = 8000, quiet: bool = False) -> None:
    """Serve ``state`` with uvicorn until Ctrl-C (uvicorn finishes the requests in flight, then returns),
    warming the models in a background thread meanwhile (:func:`warm_up`)."""
    import threading

    import uvicorn

    threading.Thread(target=warm_up, args=(state,), name="cnnzoo-serve-warm-up", daemon=True).start()

    config = uvicorn.Config(create_app(state), host=host, port=port, log_level="warning" if quiet else "info")
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled, after shutdown
        asyncio.run(server.serve())
