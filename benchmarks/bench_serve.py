"""Server-side time of ``cnnzoo serve`` from a drawn stroke (a POSTed 280x280 PNG) to all LeNet-5 layer maps.

    python benchmarks/bench_serve.py [--checkpoint runs/lenet5-digits/best.pt] [--rounds 300] [--threads 2]

Contenders, timed in interleaved rounds (:func:`cnnzoo.timing.interleaved_times`), each called once per
round in rotating order:

- ``request``: ``POST /api/draw`` through the framework's in-process test client: multipart parsing, PNG
  decoding, the digit's MNIST-style centring, C1 .. RBF output, top-5 and the JSON answer (what the browser
  waits for, minus the network; the test client's own work is included, so this is an upper bound);
- ``request+gradcam``: the same with the Grad-CAM overlay (Selvaraju et al., 2017);
- ``record``: :func:`cnnzoo.serve.core.draw_record` alone (no web framework);
- ``forward``: the bare ``model(x)`` on a ready 1x32x32 tensor, the peer every ratio is taken against.

- ``request-f32``: the request the Draw page sends (``encoding=f32``: every layer as exact float32, all
  the unit inspector needs, so a hovered unit costs no further request).

Then (issue #25) ``--clients`` (default 4) clients drawing at once against a real uvicorn server on
127.0.0.1, each sending the page's request ``--per-client`` times (round trips measured by the clients,
network stack included), and the one-off fetch of the inspector's weights (``GET /api/lenet/params``, once
per page load). Targets: ``request`` median <= 100 ms (issue #18), p90 <= 100 ms with 4 clients on 2 cores
(#25). Writes its section of BENCHMARKS.md.

    python benchmarks/bench_serve.py                      # ~3 min on 2 quiet cores
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

# The request runs in the server's worker thread, the other contenders in the main thread: each thread has
# its own OpenMP team, and spinning idle teams would steal the 2 cores from each other. Passive waiting
# keeps the contenders from slowing each other down (set before torch loads OpenMP).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._report import cpu_line, summary_line, write_section  # noqa: E402

START, END = "<!-- bench-serve:start -->", "<!-- bench-serve:end -->"


def isa_flags() -> str:
    """The CPU features the project records beside speed figures (from /proc/cpuinfo)."""
    try:
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags"))
    except (OSError, StopIteration):
        return "flags unknown"
    have = set(flags.split(":", 1)[1].split())
    return ", ".join(
        f"{f} {'yes' if f in have else 'no'}" for f in ("amx_tile", "avx512_bf16", "avx512_vnni")
    )


def stroke_png() -> bytes:
    """A hand-drawn-looking 7: white 20-pixel strokes on a black 280x280 pad, as the Draw page sends."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(im).line([(70, 55), (210, 55), (125, 225)], fill=255, width=20, joint="curve")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def concurrent_clients(web, lm, data: bytes, clients: int, per_client: int) -> dict[str, float]:  # noqa: ANN001
    """Round trips of ``clients`` threads, each POSTing the page's request ``per_client`` times to a real
    uvicorn server (after 5 warm-up requests each)."""
    import socket
    import threading

    import httpx
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            web.create_app(web.ServeState(draw=lm)), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    times: list[float] = []
    lock = threading.Lock()

    def loop() -> None:
        with httpx.Client(timeout=60) as c:
            for i in range(per_client + 5):
                t = time.perf_counter()
                r = c.post(
                    f"{url}/api/draw",
                    files={"image": ("d.png", data, "image/png")},
                    data={"encoding": "f32"},
                )
                dt = time.perf_counter() - t
                assert r.status_code == 200, r.text
                if i >= 5:
                    with lock:
                        times.append(dt * 1000)

    try:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=loop) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        t = time.perf_counter()
        params = httpx.get(f"{url}/api/lenet/params?encoding=f32", timeout=60)
        params_ms = (time.perf_counter() - t) * 1000
    finally:
        server.should_exit = True
        thread.join(10)
    times.sort()
    return {
        "n": len(times),
        "p50": statistics.median(times),
        "p90": times[int(0.9 * len(times))],
        "rps": len(times) / wall,
        "params_ms": params_ms,
        "params_kb": len(params.content) / 1024,
    }


def _other_busy_processes(threshold: float = 0.2) -> list[str]:
    """Names of other processes that used more than ``threshold`` of a core over half a second."""
    import os as _os

    def ticks() -> dict[str, tuple[str, int]]:
        out = {}
        for pid in filter(str.isdigit, _os.listdir("/proc")):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
                name = fields[0].split("(", 1)[1]
                rest = fields[1].split()
                out[pid] = (name, int(rest[11]) + int(rest[12]))
            except (OSError, IndexError, ValueError):
                continue
        return out

    if not Path("/proc/self/stat").is_file():
        return []
    a = ticks()
    time.sleep(0.5)
    b = ticks()
    hz = _os.sysconf("SC_CLK_TCK")
    me = str(_os.getpid())
    return [
        name for pid, (name, t) in b.items()
        if pid != me and pid in a and (t - a[pid][1]) / hz / 0.5 > threshold
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--checkpoint",
        default=None,
        help="LeNet-5 checkpoint (default: the one cnnzoo serve ships)",
    )
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--per-client", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    busy = _other_busy_processes()
    quiet = (
        "No other process used the CPU when it started (a quiet machine)."
        if not busy
        else f"Other processes were using the CPU when it started ({', '.join(busy[:3])}): contended figures."
    )

    from fastapi.testclient import TestClient

    from cnnzoo.serve import app as web
    from cnnzoo.serve import core
    from cnnzoo.timing import interleaved_times

    lm = core.load_draw_model(args.checkpoint)
    ref = lm.source
    client = TestClient(web.create_app(web.ServeState(draw=lm)))
    data = stroke_png()
    x = lm.normalise(core.digit_tensor(data))[None]
    files = {"image": ("drawing.png", data, "image/png")}

    def request(overlay: str, encoding: str = "json") -> None:
        r = client.post("/api/draw", files=files, data={"overlay": overlay, "encoding": encoding})
        assert r.status_code == 200 and len(r.json()["layers"]) == 7, r.text

    def forward() -> None:
        with torch.no_grad():
            lm.model(x)

    runners = {
        "request": lambda: request("none"),
        "request-f32": lambda: request("none", "f32"),
        "request+gradcam": lambda: request("gradcam"),
        "record": lambda: core.draw_record(lm, data),
        "forward": forward,
    }
    interleaved_times(runners, 10)  # warm-up
    t0 = time.time()
    times = interleaved_times(runners, args.rounds)
    wall = time.time() - t0
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    p90 = {k: sorted(v)[int(0.9 * len(v))] * 1000 for k, v in times.items()}
    rows = [
        f"| {k} | {med[k]:.2f} | {p90[k]:.2f} | {med[k] / med['forward']:.1f}x |"
        for k in ("request", "request-f32", "request+gradcam", "record", "forward")
    ]
    many = concurrent_clients(web, lm, data, args.clients, args.per_client)
    verdict4 = "meets" if many["p90"] <= 100 else "misses"
    verdict = "meets" if med["request"] <= 100 else "misses"
    body = "\n".join(
        [
            f"Machine: {cpu_line()} ({isa_flags()}); torch {torch.__version__}, OMP_WAIT_POLICY="
            f"{os.environ.get('OMP_WAIT_POLICY')}. Command: `python benchmarks/bench_serve.py` "
            f"({time.strftime('%Y-%m-%d %H:%M')}); model: {ref}. {quiet} Medians, not means; ratios come "
            "from the same interleaved rounds.",
            "",
            "Server-side time from a drawn stroke (a 280x280 PNG POSTed to `/api/draw`) to all LeNet-5 "
            f"layer maps (C1, S2, C3, S4, C5, F6, RBF distances), top-5 and the JSON answer; {args.rounds} "
            f"interleaved rounds ({wall:.0f} s). `request` goes through FastAPI's in-process test client "
            "(its client side included: an upper bound); `record` is `cnnzoo.serve.core.draw_record` alone; "
            "`forward` the bare `model(x)`.",
            "",
            "| contender | median ms | p90 ms | vs bare forward |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"The `request` median {verdict} the issue's target of 100 ms on 2 cores "
            f"({med['request']:.1f} ms).",
            "",
            f"{args.clients} clients drawing at once (a real uvicorn server on 127.0.0.1; each client sends "
            f"the Draw page's request, `encoding=f32`, {args.per_client} times; round trips measured by the "
            f"clients): median **{many['p50']:.1f} ms**, p90 **{many['p90']:.1f} ms** over "
            f"{many['n']} requests ({many['rps']:.0f} answers/s), which {verdict4} the target of p90 <= "
            "100 ms (#25). The unit inspector needs no request per hovered unit: the answer carries every "
            f"layer exactly, and the weights come once per page load (`GET /api/lenet/params`: "
            f"{many['params_ms']:.1f} ms, {many['params_kb']:.0f} KB).",
            summary_line(
                "`cnnzoo serve`: drawn stroke to every LeNet-5 layer (server side, `/api/draw`)",
                f"median **{med['request']:.1f} ms** (p90 {p90['request']:.1f} ms)",
                "<= 100 ms",
                cpu_line(),
            ),
        ]
    )
    print(body)
    write_section(args.out, START, END, body, "cnnzoo serve: drawn stroke to every LeNet-5 layer")


if __name__ == "__main__":
    main()
