"""Every entry of the pretrained-weights table, checked end to end without the internet.

For each published checkpoint (``cnnzoo.weights.table.ENTRIES``) the peer's own network (torchvision's or
timm's) is built with random weights and randomised BatchNorm statistics, its state dict is saved in the
peer's own format (``.pth``, or ``model.safetensors`` for Hub files) at the place the official URL names, a
real HTTP server on 127.0.0.1 serves that folder, and the mirror setting points the real download code at it.
``cnnzoo.create_model(MODEL, weights="SOURCE:TAG")`` then downloads, verifies, maps and loads the file, and
both networks are evaluated on the same random pixels, each normalised as its own pipeline does (the peer's
eval mean/std into the peer, our record's into ours). Pass: max abs difference <= 1e-5 x max(1, max |peer|).

Where the entry needs constructor options (``count_include_pad=True``...), the script also loads the file into
the model built with its defaults and expects a refusal: "never silently wrong".

The random file cannot carry the published SHA-256 prefix, so the table's hash is replaced in memory by the
served file's (the hash check itself is exercised in ``tests/test_weights.py``). Inputs are small (64x64;
75 for the Inceptions, 32 for Xception) to keep the run short. Results go into BENCHMARKS.md between the
``pretrained-equivalence:start`` / ``:end`` markers.

    nice -n 5 python benchmarks/pretrained_equivalence.py               # all 54 entries (minutes, CPU)
    python benchmarks/pretrained_equivalence.py --pattern 'resnet*'     # a subset
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import hashlib
import http.server
import platform
import tempfile
import threading
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- pretrained-equivalence:start -->", "<!-- pretrained-equivalence:end -->"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def check(entry, root: Path) -> dict:  # noqa: ANN001
    import cnnzoo
    from cnnzoo.errors import CnnzooError
    from cnnzoo.weights import peers, table
    from cnnzoo.weights.hub import url_path
    from cnnzoo.weights.load import load_weights

    t0 = time.perf_counter()
    torch.manual_seed(0)
    peer, mean, std = peers.peer_model(entry)
    path = peers.save_peer_file(peer, root / url_path(entry.location), entry)
    if entry.sha256:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[: len(entry.sha256)]
        table.ENTRIES = tuple(
            dataclasses.replace(e, sha256=digest) if e == entry else e for e in table.ENTRIES
        )
    row = {"model": entry.model, "weights": entry.key, "kwargs": entry.record.model_kwargs}
    try:
        ours = cnnzoo.create_model(entry.model, weights=entry.key)
        diff, scale = peers.compare(peer, mean, std, ours, size=peers.input_size(entry))
        row.update(diff=diff, scale=scale, ok=diff <= 1e-5 * max(1.0, scale), error="")
    except (CnnzooError, RuntimeError) as e:
        row.update(diff=None, scale=None, ok=False, error=str(e).splitlines()[0])
    if entry.record.model_kwargs:  # the same file into the default-built model must be refused
        plain = cnnzoo.create_model(entry.model)
        try:
            load_weights(plain, entry.key)
            row["default_refused"] = False
        except CnnzooError:
            row["default_refused"] = True
        row["ok"] = row["ok"] and row["default_refused"]
    path.unlink()
    row["seconds"] = time.perf_counter() - t0
    return row


def run(args: argparse.Namespace) -> list[dict]:
    from cnnzoo.weights import hub, table

    torch.set_num_threads(args.threads)
    chosen = [
        e for e in table.ENTRIES if e.source != "package" and fnmatch.fnmatchcase(e.model, args.pattern)
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "served"
        root.mkdir()
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        hub.configure(
            cache_dir=Path(tmp) / "cache", mirror=f"http://127.0.0.1:{srv.server_port}", progress=False
        )
        try:
            for i, entry in enumerate(chosen, 1):
                row = check(entry, root)
                for f in (Path(tmp) / "cache").rglob("*"):
                    if f.is_file():
                        f.unlink()
                rows.append(row)
                diff = "-" if row["diff"] is None else f"{row['diff']:.1e}"
                print(
                    f"[{i}/{len(chosen)}] {'PASS' if row['ok'] else 'FAIL'} {entry.model} {entry.key} "
                    f"max|diff| {diff} ({row['seconds']:.1f} s) {row['error']}",
                    flush=True,
                )
        finally:
            srv.shutdown()
            srv.server_close()
    return rows


def table_md(rows: list[dict], args: argparse.Namespace) -> str:
    passed = sum(r["ok"] for r in rows)
    lines = [
        f"Run {datetime.now():%Y-%m-%d %H:%M}, torch {torch.__version__}, {args.threads} thread(s), "
        f"{platform.processor() or platform.machine()}; pattern `{args.pattern}`: **{passed} of {len(rows)} "
        "entries pass** (max |ours - peer| <= 1e-5 x max(1, max|peer|), eval mode, same pixels, each "
        "normalised by its own pipeline; files fetched from a local HTTP server through the mirror setting).",
        "",
        "| model | weights | options built | max abs diff | max abs peer output | default refused | result |",
        "|---|---|---|--:|--:|---|---|",
    ]
    for r in rows:
        opts = ", ".join(f"{k}={v!r}" for k, v in r["kwargs"].items()) or "—"
        diff = "—" if r["diff"] is None else f"{r['diff']:.2e}"
        scale = "—" if r["scale"] is None else f"{r['scale']:.3g}"
        refused = {True: "yes", False: "NO"}.get(r.get("default_refused"), "—")
        res = "pass" if r["ok"] else f"FAIL {r['error'][:80]}"
        lines.append(f"| {r['model']} | {r['weights']} | {opts} | {diff} | {scale} | {refused} | {res} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pattern", default="*", help="fnmatch pattern of cnnzoo model names (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="do not write BENCHMARKS.md")
    args = ap.parse_args(argv)
    rows = run(args)
    text = table_md(rows, args)
    print(text)
    if not args.no_write:
        import sys

        sys.path.insert(0, str(ROOT / "benchmarks"))
        from degradation import write_section

        write_section(ROOT / "BENCHMARKS.md", START, END, text, "Pretrained weights: every table entry")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
