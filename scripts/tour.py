"""Run every command printed in the documentation and write its output there, or check that it still matches.

    python scripts/tour.py --check              # README.md and docs/*.md (CI runs this)
    python scripts/tour.py --write docs/serve.md   # regenerate one page's outputs

A page's runnable examples are ``console`` blocks announced by an HTML comment on the line before them::

    <!-- run: keep 1-3; -; keep last2, timing -->
    ```console
    $ cnnzoo list "res*"
    (output, written by --write)
    $ cnnzoo summary lenet5
    ...
    ```

Lines starting with ``$ `` are commands, run in order with bash, stdout and stderr together in the order a
terminal shows them (progress bars left out), as a newcomer would type them; the other lines are their
output. The comment gives one directive per command, in order,
separated by ``;`` (``-`` for none): ``keep SPEC`` shows only some output lines (``1-7,12,last6``; a gap is
shown as ``...``) and ``timing`` marks output that is all speed figures. ``background`` starts a command
that runs until stopped (``cnnzoo serve``): the block's next commands run while it does (they wait for it
themselves, e.g. ``curl --retry``), and when the block ends it gets a Ctrl-C (SIGINT) and its output is shown
under it, as the terminal that ran it shows it. A page runs in its own fresh temporary folder (so ``runs/``
starts empty), block after block; files a page writes under ``docs/img/`` are copied into the repository's
``docs/img/`` by ``--write``. Console blocks without the comment are not run.

Under the same comment a ``python`` block is run as one script (it must end with exit status 0) and a
``pycon`` block (``>>>`` prompts) is run by :mod:`doctest`, its printed results compared (``...`` matches
anything); both in the page's folder after the blocks above them, so they may read what those wrote. Their
text is the author's and is not rewritten.

``--write`` records the CPU the outputs came from at the end of the page (``<!-- outputs: CPU -->``).
``--check`` then compares a fresh run with the page:
- lines about speed (img/s, ms, GFLOP/s, "faster", timings in seconds or minutes, ``timing`` commands) compare
  only their first word, on every machine;
- on a CPU of the same family (model name and the vector flags oneDNN dispatches on: AVX2, AVX-512,
  AVX512_BF16/VNNI, AMX), every other line must be equal to the character: a training run with fixed seeds
  is deterministic there, so a changed accuracy digit is a real change;
- on another family, float kernels legitimately move the last digits of a training run (ResNet-20's test
  top-1 on 360 digits by up to nine images between an AMD EPYC and an Intel Xeon), so decimals compare within
  0.03 absolute or 2% relative and ``best epoch N`` is not compared; whole numbers (parameters, MACs, shapes,
  image counts) stay exact.
- ``cnnzoo train`` times its thread counts on the machine and says which it took (``threads: N thread(s)``):
  that line compares its first word only, and a command whose fresh run took another count than the page's
  compares as on another family (its floats were summed in another order).
It exits 1 with a diff when a page no longer matches; regenerate it with ``--write``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = re.compile(r"^<!-- run(?::(?P<directives>.*))? -->$")
FENCE_OPEN, FENCE_CLOSE = "```console", "```"
CODE_FENCES = {"```python": "python", "```pycon": "pycon"}  # run as a script / by doctest
# runs a ``pycon`` block (given on stdin) with doctest; exit status 1 when an example fails
DOCTEST = (
    "import doctest, sys\n"
    "globs = {'__name__': '__main__'}\n"
    "test = doctest.DocTestParser().get_doctest(sys.stdin.read(), globs, 'block', None, 0)\n"
    "runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)\n"
    "runner.run(test)\n"
    "sys.exit(1 if runner.failures else 0)\n"
)
OUTPUTS = re.compile(r"^<!-- outputs: (?P<cpu>.*) -->$")
SPEED = re.compile(
    r"img/s|\bms\b|GFLOP/s|faster|speed|\d+(\.\d+)?\s*s\b(?! of)|\d+\s*min\b|\bsgemm\b|\d+\.\d+x\b"
)
# a tqdm bar ("units:  89%|████▉ | 320/360 [00:02<00:00, 168.39img/s]"); TQDM_DISABLE does not reach a bar
# that its caller enables explicitly
PROGRESS = re.compile(r"\d+%\|[^|]*\| *\d+/\d+ \[")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
# the epoch a run chose ("best epoch 7", "best.pt = epoch 7 of 10"): one more or less on another CPU
RUN_DEPENDENT = re.compile(r"best epoch \d+|= epoch \d+ of")
# `cnnzoo train` picks its thread count by timing both on the machine: a speed figure, and a run with another
# count sums its floats in another order (its losses move in the fourth decimal)
THREADS = re.compile(r"^threads: (\d+) thread\(s\)")
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


@dataclass
class Command:
    text: str
    keep: str | None = None
    timing: bool = False
    background: bool = False
    output: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A run block: where it sits in the page (line numbers of its fences) and its commands."""

    start: int  # index of the ```console line
    end: int  # index of the closing ``` line
    commands: list[Command]  # a code block: one command, its whole text
    kind: str = "console"  # or "python" / "pycon"


def cpu_family() -> str:
    """This machine's CPU as the check groups them: model name and the vector flags float kernels use."""
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown CPU":
                model = " ".join(value.split())
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    have = [f for f in FLAGS if f in flags]
    return f"{model} ({', '.join(have) or 'no AVX2'})"


def parse_directives(text: str | None, n: int, where: str) -> list[tuple[str | None, bool, bool]]:
    """``keep 1-3; -; timing; background`` as one (keep, timing, background) per command."""
    items = [t.strip() for t in text.split(";")] if text and text.strip() else []
    if items and len(items) != n:
        raise SystemExit(
            f"{where}: {len(items)} directives for {n} commands; give one per command ('-' for none)"
        )
    out = []
    for item in items or ["-"] * n:
        keep, timing, background = None, False, False
        for part in (p.strip() for p in item.split(",") if p.strip()):
            if part.startswith("keep "):
                keep = part[5:].strip()
            elif part == "timing":
                timing = True
            elif part == "background":
                background = True
            elif part == "-":
                continue
            elif keep is not None and re.fullmatch(r"(last)?\d+(-\d+)?", part):
                keep += "," + part  # "keep 1-3, 7": the comma split the spec
            else:
                raise SystemExit(f"{where}: unknown directive {part!r} (keep SPEC, timing, background or -)")
        out.append((keep, timing, background))
    return out


def parse_page(lines: list[str], where: str) -> list[Block]:
    """The run blocks of a page."""
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = RUN.match(lines[i].strip())
        if not m:
            i += 1
            continue
        fence = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if fence in CODE_FENCES:
            j = i + 2
            while j < len(lines) and lines[j].strip() != FENCE_CLOSE:
                j += 1
            if j >= len(lines):
                raise SystemExit(f"{where}:{i + 2}: the {fence} block is not closed")
            if m.group("directives") and m.group("directives").strip():
                raise SystemExit(f"{where}:{i + 1}: a {fence} block takes no directives")
            code = "\n".join(lines[i + 2 : j]) + "\n"
            blocks.append(Block(i + 1, j, [Command(code)], CODE_FENCES[fence]))
            i = j + 1
            continue
        if fence != FENCE_OPEN:
            raise SystemExit(
                f"{where}:{i + 1}: a <!-- run --> comment must stand right above a ```console, ```python "
                "or ```pycon block"
            )
        j = i + 2
        commands: list[Command] = []
        while j < len(lines) and lines[j].strip() != FENCE_CLOSE:
            if lines[j].startswith("$ "):
                commands.append(Command(lines[j][2:].strip()))
            elif commands:
                commands[-1].output.append(lines[j])
            j += 1
        if j >= len(lines):
            raise SystemExit(f"{where}:{i + 2}: the ```console block is not closed")
        if not commands:
            raise SystemExit(f"{where}:{i + 2}: a run block holds no `$ ` command")
        for cmd, (keep, timing, background) in zip(
            commands, parse_directives(m.group("directives"), len(commands), where)
        ):
            cmd.keep, cmd.timing, cmd.background = keep, timing, background
        blocks.append(Block(i + 1, j, commands))
        i = j + 1
    return blocks


def kept(lines: list[str], spec: str | None) -> list[str]:
    """The lines ``spec`` keeps, with ``...`` where lines are left out."""
    if not spec:
        return lines
    n, idx = len(lines), set()
    for tok in spec.split(","):
        tok = tok.strip()
        if tok.startswith("last"):
            idx.update(range(max(0, n - int(tok[4:])), n))
        elif "-" in tok:
            a, b = tok.split("-")
            idx.update(range(int(a) - 1, min(n, int(b))))
        else:
            idx.add(int(tok) - 1)
    out, prev = [], -1
    for i in sorted(j for j in idx if 0 <= j < n):
        if i != prev + 1:
            out.append("...")
        out.append(lines[i])
        prev = i
    if prev != n - 1:
        out.append("...")
    return out


def environment() -> dict[str, str]:
    # progress bars off (TQDM_DISABLE): they are not output a reader compares
    env = dict(os.environ, COLUMNS="120", PYTHONUNBUFFERED="1", TQDM_DISABLE="1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    # `cnnzoo` and `python` are the ones installed beside the interpreter running this check
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def terminal_lines(text: str, keep: str | None) -> list[str]:
    """What a terminal is left showing of ``text``, cut by a ``keep`` spec: of a line rewritten with ``\r``
    its last state; progress bars, which erase themselves or scroll by, are left out."""
    shown: list[str] = []
    for line in text.rstrip("\n").split("\n") if text.rstrip("\n") else []:
        last = line.rsplit("\r", 1)[-1].rstrip()
        if PROGRESS.search(last) or ("\r" in line and not last):
            continue
        shown.append(last)
    return kept(shown, keep)


def run_command(cmd: Command, cwd: Path, env: dict[str, str]) -> list[str]:
    """The lines a terminal shows for ``cmd``, cut by its ``keep`` spec."""
    print(f"$ {cmd.text}", file=sys.stderr, flush=True)
    proc = subprocess.run(
        ["bash", "-c", cmd.text],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in the order a terminal shows them
        text=True,
        timeout=1800,
    )
    return terminal_lines(proc.stdout, cmd.keep)


def _popen_with_ctrl_c(argv: list[str], **kwargs: object) -> subprocess.Popen:
    """``subprocess.Popen`` with SIGINT at its default in the child even where this process ignores it, as a
    job started with ``&`` by a non-interactive shell (or under it) does: a shell cannot trap a signal that
    was ignored when it started, so the command would never see the Ctrl-C that ends it. A handled signal
    is reset to the default by exec, so the parent handles SIGINT for the instant of the spawn."""
    old = signal.getsignal(signal.SIGINT)
    if old is not signal.SIG_IGN:
        return subprocess.Popen(argv, **kwargs)  # type: ignore[call-overload]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(argv, **kwargs)  # type: ignore[call-overload]
    finally:
        signal.signal(signal.SIGINT, old)


class Background:
    """A ``background`` command: started in its own process group with its output in a file, stopped with
    SIGINT (a Ctrl-C) when its block ends."""

    def __init__(self, cmd: Command, cwd: Path, env: dict[str, str]) -> None:
        print(f"$ {cmd.text}  (in the background)", file=sys.stderr, flush=True)
        self.cmd = cmd
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by stop()); outside the page's folder: `ls` there does not see it
        self.proc = _popen_with_ctrl_c(
            ["bash", "-c", cmd.text],
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> list[str]:
        for sig, patience in ((signal.SIGINT, 60), (signal.SIGKILL, 10)):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(patience)
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return terminal_lines(text, self.cmd.keep)


def run_code(block: Block, cwd: Path, env: dict[str, str]) -> list[str]:
    """A ``python`` block run as a script, a ``pycon`` block by doctest: nothing when it passes, else the
    exit status and what it printed."""
    print(f"({block.kind} block of {block.end - block.start - 1} lines)", file=sys.stderr, flush=True)
    argv = ["python", "-"] if block.kind == "python" else ["python", "-c", DOCTEST]
    proc = subprocess.run(
        argv, input=block.commands[0].text, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800
    )
    if proc.returncode == 0:
        return []
    return [f"exit status {proc.returncode}", *(proc.stdout + proc.stderr).rstrip("\n").splitlines()]


def run_block(block: Block, cwd: Path, env: dict[str, str]) -> list[list[str]]:
    """Per command of ``block``, its lines (for a code block: one entry, empty when it passed)."""
    if block.kind != "console":
        return [run_code(block, cwd, env)]
    outs: list[list[str] | Background] = []
    try:
        for cmd in block.commands:
            outs.append(Background(cmd, cwd, env) if cmd.background else run_command(cmd, cwd, env))
    finally:
        done = [o.stop() if isinstance(o, Background) else o for o in outs]
    return done


def run_page(blocks: list[Block], work: Path) -> list[list[list[str]]]:
    """Fresh outputs: per block, per command, its lines."""
    (work / "docs" / "img").mkdir(parents=True, exist_ok=True)
    env = environment()
    return [run_block(block, work, env) for block in blocks]


def _numbers_close(a: str, b: str) -> bool:
    a, b = RUN_DEPENDENT.sub("best epoch N", a), RUN_DEPENDENT.sub("best epoch N", b)
    na, nb = NUMBER.findall(a), NUMBER.findall(b)
    if NUMBER.sub("#", a) != NUMBER.sub("#", b) or len(na) != len(nb):
        return False
    for x, y in zip(na, nb):
        if x == y:
            continue
        if "." not in x + y and "e" not in x + y:
            return False  # whole numbers are exact
        fx, fy = float(x.replace(",", "")), float(y.replace(",", ""))
        if abs(fx - fy) > max(0.03, 0.02 * max(abs(fx), abs(fy))):
            return False
    return True


def lines_match(page: str, fresh: str, timing: bool = False, same_cpu: bool = False) -> bool:
    """Whether a page's line still stands for a fresh run's line (the rules in the module docstring)."""
    if page == fresh:
        return True
    if timing or SPEED.search(page) or SPEED.search(fresh) or THREADS.match(page):
        return page.split()[:1] == fresh.split()[:1]
    return not same_cpu and _numbers_close(page, fresh)


def page_cpu(lines: list[str]) -> str | None:
    for line in reversed(lines):
        m = OUTPUTS.match(line.strip())
        if m:
            return m.group("cpu")
    return None


def _threads(out: list[str]) -> str | None:
    """The thread count a command's output says it trained with (None when it says none)."""
    return next((m.group(1) for m in map(THREADS.match, out) if m), None)


def compare(path: Path, lines: list[str], blocks: list[Block], fresh: list[list[list[str]]]) -> list[str]:
    """A unified diff per block that no longer matches (empty when the page holds)."""
    same_cpu = page_cpu(lines) == cpu_family()
    diffs: list[str] = []
    for block, outs in zip(blocks, fresh):
        if block.kind != "console":
            if outs[0]:
                diffs += [f"{shown(path)}:{block.start + 1}: the {block.kind} block fails:", *outs[0]]
            continue
        old: list[str] = []
        new: list[str] = []
        flags: list[tuple[bool, bool]] = []  # (timing, exact) per line
        for cmd, out in zip(block.commands, outs):
            old += [f"$ {cmd.text}", *cmd.output]
            new += [f"$ {cmd.text}", *out]
            exact = same_cpu and _threads(cmd.output) == _threads(out)
            flags += [(False, exact)] + [(cmd.timing, exact)] * len(out)
        bad = len(old) != len(new) or any(
            not lines_match(a, b, t, e) for a, b, (t, e) in zip(old, new, flags)
        )
        if bad:
            name = f"{shown(path)}:{block.start + 1}"
            diffs += difflib.unified_diff(old, new, f"{name} (page)", "fresh run", lineterm="")
    return diffs


def rewrite(lines: list[str], blocks: list[Block], fresh: list[list[list[str]]]) -> list[str]:
    """The page with every block's output replaced by the fresh one and the CPU recorded."""
    out: list[str] = []
    pos = 0
    for block, outs in zip(blocks, fresh):
        if block.kind != "console":
            continue  # the author's code, kept as written
        out += lines[pos : block.start + 1]
        for cmd, got in zip(block.commands, outs):
            out += [f"$ {cmd.text}", *got]
        pos = block.end
    out += lines[pos:]
    out = [line for line in out if not OUTPUTS.match(line.strip())]
    while out and not out[-1].strip():
        out.pop()
    return [*out, "", f"<!-- outputs: {cpu_family()} -->"]


def shown(path: Path) -> str:
    """``path`` as a reader finds it: relative to the repository where it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def pages(given: list[Path]) -> list[Path]:
    if given:
        return [p.resolve() for p in given]
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [p for p in found if any(RUN.match(line.strip()) for line in p.read_text().splitlines())]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare fresh outputs with the pages")
    mode.add_argument("--write", action="store_true", help="rewrite the pages' outputs (and docs/img files)")
    mode.add_argument("--list", action="store_true", help="list the pages and their commands, run nothing")
    ap.add_argument(
        "files", nargs="*", type=Path, help="pages (default: README.md and every docs/*.md with run blocks)"
    )
    ap.add_argument(
        "--keep-dir", action="store_true", help="keep the temporary folders (their paths are printed)"
    )
    args = ap.parse_args(argv)
    failed = 0
    for path in pages(args.files):
        lines = path.read_text().splitlines()
        blocks = parse_page(lines, str(path))
        if args.list:
            for block in blocks:
                for cmd in block.commands:
                    text = cmd.text if block.kind == "console" else f"({block.kind} block)"
                    print(f"{shown(path)}:{block.start + 1}: {text}")
            continue
        work = Path(tempfile.mkdtemp(prefix=f"cnnzoo-{path.stem}-"))
        try:
            fresh = run_page(blocks, work)
            if args.check:
                diff = compare(path, lines, blocks, fresh)
                if diff:
                    print("\n".join(diff))
                    failed += 1
                else:
                    print(f"{shown(path)}: every output matches a fresh run")
                continue
            broken = [
                f"{shown(path)}:{b.start + 1}: the {b.kind} block fails:\n" + "\n".join(o[0])
                for b, o in zip(blocks, fresh)
                if b.kind != "console" and o[0]
            ]
            if broken:
                print("\n".join(broken))
                failed += 1
            path.write_text("\n".join(rewrite(lines, blocks, fresh)) + "\n")
            for img in sorted((work / "docs" / "img").glob("*")):
                shutil.copy2(img, ROOT / "docs" / "img" / img.name)
                print(f"copied docs/img/{img.name}")
            print(f"wrote the outputs of {shown(path)}")
        finally:
            if args.keep_dir:
                print(f"work folder: {work}", file=sys.stderr)
            else:
                shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"\n{failed} page(s) no longer match; run `python scripts/tour.py --write PAGE`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
