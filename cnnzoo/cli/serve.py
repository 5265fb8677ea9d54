"""``cnnzoo serve``: the local web pages where students watch LeNet-5 think (see :mod:`cnnzoo.serve`)."""

from __future__ import annotations

import argparse
import sys

from ._args import command

ORDER = 95
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


_SERVE_HELP = "local web pages: draw a digit and watch LeNet-5's layers; model anatomy; photos"
_SERVE = """\
Start a local web application (FastAPI + uvicorn) and print its address.
  Draw:    draw a digit; watch every layer of LeNet-5 (C1, S2, C3, S4, C5, F6, RBF output) and
           its top-5 answer; hover or tap any unit to see its inputs, weights and arithmetic; a
           3D view of the whole network; saliency or Grad-CAM overlays on request.
           Without CHECKPOINT: the LeNet-5 shipped inside cnnzoo, trained on real MNIST digits.
  Widgets: the lectures' worked examples (max-pooling forward and backward, a convolution
           playground), computed by PyTorch.
  Anatomy: the per-layer table of any registered model, receptive fields, the accuracy/compute
           chart.
  Photo:   top-5 classes and Grad-CAM of a pretrained or fine-tuned model (--photo).
The JSON API behind the pages is described at /api. Binds 127.0.0.1 (this machine only) unless
--host says otherwise. Needs the web packages: `pip install -e ".[serve]"` in cnnzoo's clone."""
_SERVE_EXAMPLES = """\
examples:
  cnnzoo serve                                   # then open http://127.0.0.1:8000/
  cnnzoo serve runs/lenet5-digits/best.pt --port 8080
  cnnzoo serve --photo efficientnet_lite0        # its published weights (pip package)
  cnnzoo serve --photo runs/resnet18-folder-photos/best.pt   # a fine-tuned checkpoint
  cnnzoo serve --photo resnet50_v1_5@torchvision:IMAGENET1K_V1
  cnnzoo serve --photo ft_int8.onnx              # an exported ONNX file (top-5, no Grad-CAM)"""


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "serve", run_serve, _SERVE_HELP, _SERVE, epilog=_SERVE_EXAMPLES, raw=True)
    p.add_argument(
        "checkpoint",
        nargs="?",
        default=None,
        metavar="CHECKPOINT|MODEL",
        help="the Draw page's model: a cnnzoo checkpoint or a registered name (random weights); default: "
        "the LeNet-5 shipped with cnnzoo (trained on 4,500 real MNIST digits; benchmarks/lenet5_mnist.py)",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--photo",
        metavar="MODEL|CHECKPOINT|FILE.onnx|NAME@WEIGHTS",
        default=None,
        help="the Photo page's model: a registered name (its published weights), a cnnzoo checkpoint (its "
        "own classes and preprocessing), an exported .onnx file (FP32 or INT8: the same, read from its "
        "metadata; top-5 without Grad-CAM) or NAME@WEIGHTS (e.g. resnet50_v1_5@torchvision:IMAGENET1K_V2)",
    )
    p.add_argument(
        "--photo-weights",
        metavar="WEIGHTS",
        default=None,
        help="weights for --photo, as create_model(MODEL, weights=WEIGHTS) takes them (default: the "
        "model's published weights, see `cnnzoo list --pretrained`)",
    )
    p.add_argument(
        "--max-upload-mb", type=float, default=8.0, metavar="MB", help="largest upload accepted (default 8)"
    )
    p.add_argument(
        "--units",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder written by `cnnzoo units --out DIR`: the Anatomy page shows its units' top-9 patches "
        "(repeat for several)",
    )


def _check_port(host: str, port: int) -> None:
    import socket

    from ..errors import CnnzooError

    if not 0 < port < 65536:
        raise CnnzooError(f"--port must be between 1 and 65535, got {port}.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise CnnzooError(f"cannot resolve --host {host!r}; give an address such as 127.0.0.1.") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            raise CnnzooError(
                f"cannot listen on {host}:{port} ({e.strerror}); choose another --port or stop the program "
                "using it."
            ) from None


def run_serve(args: argparse.Namespace) -> int:
    from ..errors import CnnzooError

    try:
        from ..serve import app as web
        from ..serve import core
    except ImportError as e:
        raise CnnzooError(
            f"cnnzoo serve needs the web packages ({e.name} is missing); install them with "
            '`pip install -e ".[serve]"` in cnnzoo\'s clone (or `pip install fastapi uvicorn '
            "python-multipart`)."
        ) from None
    if args.max_upload_mb <= 0:
        raise CnnzooError(f"--max-upload-mb must be positive, got {args.max_upload_mb}.")
    if args.photo_weights and not args.photo:
        raise CnnzooError("--photo-weights needs --photo MODEL, the model the weights belong to.")
    from ..serve.units import load_units_index

    units = [load_units_index(d) for d in args.units]  # a bad folder is one sentence before the server starts
    _check_port(args.host, args.port)
    state = web.ServeState(max_upload_bytes=int(args.max_upload_mb * 2**20), units=units)
    for u in units:
        print(f"cnnzoo serve: units of {u.data.get('model')} ({u.data.get('weights')}) from {u.folder}")
    state.draw = core.load_draw_model(args.checkpoint)  # None: the LeNet-5 shipped inside the package
    print(f"cnnzoo serve: Draw model {state.draw.name} from {state.draw.source}")
    if args.photo:
        state.photo = core.load_photo_model(args.photo, args.photo_weights)
        print(f"cnnzoo serve: Photo model {state.photo.source}")
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"cnnzoo serve: open http://{shown}:{args.port}/  (Ctrl-C stops)", flush=True)
    if args.host not in LOCAL_HOSTS:
        print(
            f"cnnzoo serve: warning: bound to {args.host}, so other machines that can reach this one on port "
            f"{args.port} can use these pages; use --host 127.0.0.1 to keep them private.",
            file=sys.stderr,
            flush=True,
        )
    web.run_server(state, args.host, args.port)
    print("cnnzoo serve: stopped")
    return 0
