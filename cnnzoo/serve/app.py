"""The ``cnnzoo serve`` web application: FastAPI (on Starlette) routes over :mod:`cnnzoo.serve.core`,
served by uvicorn.

Pages (one HTML file and its scripts and style, all served from the package, nothing from a CDN; the 3D view
uses three.js, vendored under ``static/vendor/three`` with its licence):
``/`` Draw (with the unit inspector and the 3D view), ``/widgets`` the lectures' worked examples,
``/anatomy`` Anatomy, ``/photo`` Photo, ``/guide`` what each LeNet-5 layer computes, ``/api`` the JSON API's
description. JSON API:

- ``GET  /api/info``: the loaded models (the Draw model's card: what it is and what it was trained on), how to
  get one when none is loaded, the layer notes, limits.
- ``POST /api/draw`` (multipart ``image``, optional ``overlay`` none|saliency|gradcam, ``encoding``
  json|f32): :func:`cnnzoo.serve.core.draw_record`.
- ``GET  /api/lenet/params?encoding=json|f32``: every weight of the Draw model's LeNet-5
  (:func:`cnnzoo.serve.lenet.lenet_params`), for the inspector and the 3D view.
- ``POST /api/maxpool``, ``POST /api/conv`` (JSON): :mod:`cnnzoo.serve.widgets`.
- ``GET  /api/anatomy/{model}?input=CxHxW``: :func:`anatomy_record`.
- ``GET  /api/compare?models=a,b,c``: :func:`compare_record`.
- ``POST /api/photo`` (multipart ``image``, optional ``overlay`` none|gradcam): :func:`photo_record`.
- ``GET  /api/units``, ``/api/units/unit``, ``/api/units/tile``: top-9 patches of ``--units`` indexes
  (:mod:`cnnzoo.serve.units`).

Errors are JSON ``{"error": "one sentence"}`` with status 400 (a user's mistake), 404 (no such model loaded),
413 (upload too large). Model work runs in the server's thread pool (FastAPI runs ``def`` routes there), so a
slow request does not hold up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import CnnzooError
from . import core, widgets
from .lenet import ENCODINGS, NOTES, is_lenet, lenet_params

STATIC = Path(__file__).with_name("static")
PAGES = ("/", "/widgets", "/anatomy", "/photo", "/guide", "/api")
HOW_TO_TRAIN = (
    "No Draw model is loaded. Start `cnnzoo serve` without a model for the LeNet-5 it ships (trained on "
    "MNIST), or `cnnzoo serve CHECKPOINT` with any cnnzoo checkpoint (e.g. one `cnnzoo train lenet5 --data "
    "mnist-5k` wrote), or `cnnzoo serve lenet5` to watch an untrained one."
)
HOW_TO_PHOTO = (
    "No photo model is loaded. Restart with `--photo`: `cnnzoo serve --photo efficientnet_lite0` (ImageNet "
    "weights from its pip package, offline), `--photo runs/NAME/best.pt` or `--photo FILE.onnx` (a model you "
    "trained, fine-tuned or exported: its own classes and preprocessing) or `--photo "
    "resnet50_v1_5@torchvision:IMAGENET1K_V2` (a model and its published weights, downloaded once; `cnnzoo "
    "list --pretrained` shows them)."
)


@dataclass
class ServeState:
    """What the server has loaded: the Draw model (or why not), the Photo model (or why not), limits."""

    draw: core.LoadedModel | None = None
    draw_message: str = HOW_TO_TRAIN
    photo: core.LoadedModel | None = None
    photo_message: str = HOW_TO_PHOTO
    max_upload_bytes: int = core.MAX_UPLOAD_BYTES
    units: list[Any] = field(default_factory=list)  # cnnzoo.serve.units.UnitsIndex, from --units DIR


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
        body = json.dumps({"error": too_large_message(self.limit)}).encode()
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


class MaxPoolBody(BaseModel):
    """``POST /api/maxpool``: the grid (rows of numbers; default the deck's), window, stride, upstream."""

    grid: list[list[float]] | None = None
    window: int = widgets.DECK_WINDOW
    stride: int = widgets.DECK_STRIDE
    upstream: list[list[float]] | None = None


class ConvBody(BaseModel):
    """``POST /api/conv``: input side, kernel side, padding, stride, dilation, the unit, the seed."""

    size: int = 7
    kernel: int = 3
    padding: int = 0
    stride: int = 1
    dilation: int = 1
    unit: list[int] | None = None
    seed: int = 0


class _TooLarge(Exception):
    pass


def human_bytes(n: float) -> str:
    """``n`` bytes as people read them: 8 MB, 4 KB, 1.5 MB (1 KB = 1,024 bytes)."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v >= 10 or v == int(v) else f"{v:.1f} {unit}"
    return f"{int(n)} bytes"


def too_large_message(limit: int) -> str:
    return (
        f"the file is larger than this server's {human_bytes(limit)} upload limit; choose a smaller image "
        "(or restart the server with a larger --max-upload-mb)."
    )


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
        return _error(413, too_large_message(state.max_upload_bytes))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    for path in PAGES:
        app.add_api_route(path, page, include_in_schema=False)

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        """The loaded models (``draw``, ``photo``: model, source, input size, mean/std, classes, note, the
        Draw model's ``card``; or null with a ``*_message`` saying how to get one), the layer notes, the
        registered model names and the upload limit."""
        from ..registry import list_models

        return {
            "draw": state.draw.describe() if state.draw else None,
            "draw_message": "" if state.draw else state.draw_message,
            "inspector": bool(state.draw and is_lenet(state.draw.model)),
            "rbf_prototypes": core.rbf_prototypes_record(state.draw),
            "notes": NOTES,
            "photo": state.photo.describe() if state.photo else None,
            "photo_message": "" if state.photo else state.photo_message,
            "models": list_models(),
            "compare_default": list(core.COMPARE_DEFAULT),
            "max_upload_bytes": state.max_upload_bytes,
            "max_upload": human_bytes(state.max_upload_bytes),
            "overlays": list(core.OVERLAYS),
        }

    @app.post("/api/draw")
    async def draw(
        image: Annotated[UploadFile, File()],
        overlay: Annotated[str, Form()] = "none",
        encoding: Annotated[str, Form()] = "json",
    ) -> Any:
        """Run a drawing (PNG/JPEG, any size; white ink on black or dark ink on white) through the Draw
        model: :func:`cnnzoo.serve.core.draw_record`."""
        if state.draw is None:
            return _error(404, state.draw_message)
        data = await _read(image, state.max_upload_bytes)
        # JSONResponse directly: FastAPI's generic encoder walks ~9,000 floats one by one (several ms)
        return JSONResponse(await run_in_threadpool(core.draw_record, state.draw, data, overlay, encoding))

    params_cache: dict[str, dict[str, Any]] = {}

    @app.get("/api/lenet/params")
    async def params(encoding: str = "f32") -> Any:
        """Every weight of the Draw model's LeNet-5, for the unit inspector and the 3D view
        (:func:`cnnzoo.serve.lenet.lenet_params`)."""
        if state.draw is None:
            return _error(404, state.draw_message)
        if not is_lenet(state.draw.model):
            return _error(
                404, f"the Draw model {state.draw.name} is not a LeNet-5; the inspector reads LeNet-5."
            )
        if encoding not in ENCODINGS:
            return _error(400, f"unknown encoding {encoding!r}; choose one of: {', '.join(ENCODINGS)}.")
        if encoding not in params_cache:

            def read() -> dict[str, Any]:
                with state.draw.lock:  # type: ignore[union-attr]
                    return lenet_params(state.draw.model, encoding)  # type: ignore[union-attr]

            params_cache[encoding] = await run_in_threadpool(read)
        return JSONResponse(params_cache[encoding])

    @app.post("/api/photo")
    async def photo(image: Annotated[UploadFile, File()], overlay: Annotated[str, Form()] = "none") -> Any:
        """Top-5 classes of a photo and, with ``overlay=gradcam``, its Grad-CAM map:
        :func:`cnnzoo.serve.core.photo_record`."""
        if state.photo is None:
            return _error(404, state.photo_message)
        data = await _read(image, state.max_upload_bytes)
        return JSONResponse(await run_in_threadpool(core.photo_record, state.photo, data, overlay))

    @app.post("/api/maxpool")
    async def maxpool(body: MaxPoolBody) -> Any:
        """Max-pooling forward and backward, step by step (:func:`cnnzoo.serve.widgets.maxpool_record`);
        an empty body is the second lecture deck's worked example."""
        grid = body.grid if body.grid is not None else widgets.DECK_GRID
        return JSONResponse(
            await run_in_threadpool(widgets.maxpool_record, grid, body.window, body.stride, body.upstream)
        )

    @app.post("/api/conv")
    async def conv(body: ConvBody) -> Any:
        """A convolution's output size, one output's arithmetic and receptive field
        (:func:`cnnzoo.serve.widgets.conv_record`)."""
        return JSONResponse(await run_in_threadpool(widgets.conv_record, **body.model_dump()))

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

    from .units import add_units_routes

    add_units_routes(app, lambda: state.units)
    return app


def warm_up(state: ServeState) -> list[str]:
    """Answer one request of each kind before any user does (issue #30: a fresh server's first Anatomy answer
    took 3.9 s, its Photo answers 0.6 s): the Anatomy profile of the Draw model (or LeNet-5) and a blank
    image through the Draw and Photo models, which loads the modules those answers import and lets torch
    pick its kernels. Returns what was warmed; a failure here is left for the real request to
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

    # not a daemon: torch must not be torn down under a warm-up still inside it (the process would abort);
    # a Ctrl-C during the first seconds waits for the warm-up to finish
    warming = threading.Thread(target=warm_up, args=(state,), name="cnnzoo-serve-warm-up")
    warming.start()

    config = uvicorn.Config(create_app(state), host=host, port=port, log_level="warning" if quiet else "info")
    server = uvicorn.Server(config)
    try:
        with contextlib.suppress(
            KeyboardInterrupt
        ):  # uvicorn re-raises the Ctrl-C it handled, after shutdown
            asyncio.run(server.serve())
    finally:
        warming.join()
