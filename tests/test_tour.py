"""The documentation check (scripts/tour.py): which output lines a page shows, which differences it forgives,
and that a changed figure of a deterministic run fails it."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("tour", ROOT / "scripts" / "tour.py")
tour = importlib.util.module_from_spec(spec)
sys.modules["tour"] = tour
spec.loader.exec_module(tour)


def test_keep_spec_shows_ranges_and_marks_gaps():
    lines = [f"l{i}" for i in range(1, 11)]
    assert tour.kept(lines, "1-2,5,last2") == ["l1", "l2", "...", "l5", "...", "l9", "l10"]
    assert tour.kept(lines, "1-3") == ["l1", "l2", "l3", "..."]
    assert tour.kept(lines, None) == lines


def test_a_terminal_shows_a_rewritten_lines_last_state_and_no_progress_bars():
    bar = "units:  89%|████████▉ | 320/360 [00:02<00:00, 168.39img/s]"
    text = f"passed 1\r\rpassed 2\n{bar}\r{bar.replace('89%', '100%')}\n\r      \r\nwrote c1.png\n"
    assert tour.terminal_lines(text, None) == ["passed 2", "wrote c1.png"]
    assert tour.terminal_lines("a\n\nb\n", None) == ["a", "", "b"]  # a blank line a program prints stays
    assert tour.terminal_lines("", None) == []  # a silent command shows nothing, not a blank line


def test_stdout_and_stderr_keep_the_order_a_terminal_shows(tmp_path):
    cmd = tour.Command("echo out1; echo err >&2; echo out2")
    assert tour.run_command(cmd, tmp_path, tour.environment()) == ["out1", "err", "out2"]


def test_on_another_cpu_family_whole_numbers_are_exact_and_decimals_within_tolerance():
    assert tour.lines_match("total 60,965,224  724.4", "total 60,965,224  724.5")
    assert not tour.lines_match("total 60,965,224", "total 60,965,225")
    assert tour.lines_match("test top-1 0.9750  top-5 1.0000", "test top-1 0.9722  top-5 1.0000")
    assert not tour.lines_match("test top-1 0.9750", "test top-1 0.9000")
    assert not tour.lines_match("epoch 1/30 loss 0.5", "epoch 2/30 loss 0.5")


def test_what_another_cpus_float_kernels_move_is_tolerated_and_no_more():
    # ResNet-20's tour run, measured on an AMD EPYC (avx512_bf16) and on an Intel Xeon (none)
    amd = "test top-1 0.9139  top-5 1.0000  (n=360, best epoch 7 by val_top1; resnet20: 1 view)"
    xeon = "test top-1 0.9389  top-5 1.0000  (n=360, best epoch 8 by val_top1; resnet20: 1 view)"
    assert tour.lines_match(amd, xeon)
    assert not tour.lines_match(amd, xeon.replace("0.9389", "0.9500"))  # 3.6 points: a real change
    assert not tour.lines_match(amd, xeon.replace("n=360", "n=361"))  # image counts stay exact
    # the chosen epoch, as transfer and train print it beside best.pt; the epochs run stay exact
    a = "checkpoint: runs/looks/best.pt = epoch 7 of 10, chosen by validation top-1 0.8438 (loss 0.4112)"
    b = "checkpoint: runs/looks/best.pt = epoch 8 of 10, chosen by validation top-1 0.8438 (loss 0.4205)"
    assert tour.lines_match(a, b) and not tour.lines_match(a, b.replace("of 10", "of 11"))


def test_on_the_same_cpu_family_one_changed_digit_fails():
    line = "test top-1 0.9889  top-5 1.0000  (n=360, best epoch 30 by val_top1)"
    assert tour.lines_match(line, line, same_cpu=True)
    assert not tour.lines_match(line, line.replace("0.9889", "0.9861"), same_cpu=True)
    assert not tour.lines_match(line, line.replace("epoch 30", "epoch 29"), same_cpu=True)
    assert tour.lines_match("train 0.52 s  1,234 img/s", "train 0.61 s  1,100 img/s", same_cpu=True)


def test_a_run_that_timed_its_way_to_another_thread_count_compares_as_on_another_cpu(tmp_path):
    # the tour's main job as CI printed it: the machine timed 2 threads best where the page's took 1
    page = [
        "threads: 1 thread(s), measured earlier on this machine (~/.cache/cnnzoo/threads.json)",
        "epoch 30/30  loss 0.0544  train top-1 0.9812  lr 6e-05  1104 img/s",
        "test top-1 0.9861  top-5 1.0000 of best.pt  (n=360)",
    ]
    moved = page[2].replace("0.9861", "0.9833")  # one image of 360
    two = [page[0].replace("1 thread", "2 thread"), page[1], moved]
    cpu = f"<!-- outputs: {tour.cpu_family()} -->"
    lines = ["<!-- run -->", "```console", "$ cnnzoo train lenet5", *page, "```", cpu]
    blocks = tour.parse_page(lines, "page.md")
    assert tour.compare(tmp_path / "p.md", lines, blocks, [[two]]) == []
    # with the page's own thread count the run is deterministic again: one changed digit fails
    one = [page[0], page[1], moved]
    assert tour.compare(tmp_path / "p.md", lines, blocks, [[one]]) != []
    # and another count forgives float noise only, not a real change
    worse = [two[0], two[1], page[2].replace("0.9861", "0.9000")]
    assert tour.compare(tmp_path / "p.md", lines, blocks, [[worse]]) != []


def test_speed_lines_compare_only_their_first_word():
    assert not tour.lines_match("eager  1077.50  14.85", "eager  1301.00  12.10")  # no speed word...
    assert tour.lines_match("eager  1077.50  14.85", "eager  1301.00  12.10", timing=True)  # ...# timing
    assert tour.lines_match(
        "OpenVINO speed at batch 16: FP32 1.0 img/s", "OpenVINO speed at batch 16: 9 img/s"
    )
    assert not tour.lines_match("OpenVINO speed: 1 img/s", "ONNX speed: 1 img/s")


def test_a_page_parses_into_blocks_with_one_directive_per_command():
    page = [
        "intro",
        "<!-- run: keep 1-3, last2; -; timing -->",
        "```console",
        "$ cnnzoo list",
        "a",
        "$ cnnzoo summary lenet5",
        "$ cnnzoo bench x",
        "b",
        "```",
        "```console",
        "$ not run: no comment above",
        "```",
    ]
    (block,) = tour.parse_page(page, "page.md")
    got = [(c.text, c.keep, c.timing, c.output) for c in block.commands]
    assert got == [
        ("cnnzoo list", "1-3,last2", False, ["a"]),
        ("cnnzoo summary lenet5", None, False, []),
        ("cnnzoo bench x", None, True, ["b"]),
    ]
    assert (block.start, block.end) == (2, 8)


def test_a_directive_count_that_does_not_match_the_commands_is_refused():
    page = ["<!-- run: keep 1; keep 2 -->", "```console", "$ a", "```"]
    with pytest.raises(SystemExit, match="2 directives for 1 commands"):
        tour.parse_page(page, "page.md")


def test_a_perturbed_figure_of_a_deterministic_command_fails_the_check(tmp_path):
    """Write a page from a real run, check it (passes), change one digit of a parameter count (fails)."""
    page = tmp_path / "page.md"
    page.write_text("# t\n\n<!-- run: keep last1 -->\n```console\n$ python -m cnnzoo summary lenet5\n```\n")
    assert tour.main(["--write", str(page)]) == 0
    text = page.read_text()
    assert "60,000 parameters" in text and text.rstrip().endswith(f"<!-- outputs: {tour.cpu_family()} -->")
    assert tour.main(["--check", str(page)]) == 0
    page.write_text(text.replace("60,000 parameters", "60,001 parameters"))
    assert tour.main(["--check", str(page)]) == 1


def test_background_commands_and_code_blocks_parse():
    page = [
        "<!-- run: background, keep 1-2; - -->",
        "```console",
        "$ cnnzoo serve",
        "$ curl -s http://127.0.0.1:8000/api",
        "```",
        "<!-- run -->",
        "```pycon",
        ">>> 1 + 1",
        "2",
        "```",
        "<!-- run -->",
        "```python",
        "print('hello')",
        "```",
    ]
    serve, doc, script = tour.parse_page(page, "page.md")
    assert [(c.text, c.keep, c.background) for c in serve.commands] == [
        ("cnnzoo serve", "1-2", True),
        ("curl -s http://127.0.0.1:8000/api", None, False),
    ]
    assert (doc.kind, doc.commands[0].text, doc.start, doc.end) == ("pycon", ">>> 1 + 1\n2\n", 6, 9)
    assert (script.kind, script.commands[0].text) == ("python", "print('hello')\n")
    with pytest.raises(SystemExit, match="takes no directives"):
        tour.parse_page(["<!-- run: keep 1 -->", "```python", "x = 1", "```"], "page.md")


# A stand-in for `cnnzoo serve`: "up" is printed before the ready file exists (a Ctrl-C arriving between the
# two would make bash run its trap, and exit, before printing it), and the trap's words end its output.
SERVER = "trap 'echo stopped; exit 0' INT; echo up; echo up > ready; while true; do sleep 0.1; done"


def _background_page(tmp_path):
    """A page whose run block starts SERVER in the background and waits for it with the next command."""
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- run: background; - -->\n```console\n"
        f"$ {SERVER}\n$ until [ -f ready ]; do sleep 0.1; done; echo the server is up\n```\n"
    )
    return page


def test_a_background_command_runs_beside_the_next_one_and_stops_on_ctrl_c(tmp_path):
    """As `cnnzoo serve` in a run block: it keeps running while the next command talks to it, then gets a
    Ctrl-C, and what its terminal showed, the handler's last words included, lands under it."""
    page = _background_page(tmp_path)
    assert tour.main(["--write", str(page)]) == 0
    text = page.read_text()
    assert f"$ {SERVER}\nup\nstopped\n$ until" in text and "echo the server is up\nthe server is up\n" in text
    assert tour.main(["--check", str(page)]) == 0


def test_a_failing_doctest_or_script_block_fails_the_check_and_the_write(tmp_path):
    page = tmp_path / "page.md"
    good = "<!-- run -->\n```pycon\n>>> sorted({'b': 1, 'a': 2})\n['a', 'b']\n```\n"
    page.write_text(good + "<!-- run -->\n```python\nimport sys\nsys.exit(0)\n```\n")
    assert tour.main(["--check", str(page)]) == 0
    page.write_text(good.replace("['a', 'b']", "['b', 'a']"))
    assert tour.main(["--check", str(page)]) == 1
    page.write_text(good + "<!-- run -->\n```python\nraise SystemExit('no')\n```\n")
    assert tour.main(["--write", str(page)]) == 1
    assert page.read_text().startswith(good)  # the author's code is kept as written


def test_commands_run_this_checkouts_cnnzoo():
    env = tour.environment()
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


# ------------------------------------------------------------------------------ the documentation's shape


def _fenced_blocks(path: Path) -> list[tuple[str, str, list[str]]]:
    """(the line above the fence, the fence, the block's lines) for every fenced block of a page."""
    lines, out, i = path.read_text().splitlines(), [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append((lines[i - 1].strip() if i else "", lines[i].strip(), lines[i + 1 : j]))
            i = j + 1
        else:
            i += 1
    return out


def _tables(text: str) -> list[list[str]]:
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_is_short_with_no_long_table_and_a_table_of_contents():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 350
    assert "## Contents" in text and "## Start here" in text
    for table in _tables(text):
        assert len(table) - 2 <= 15, f"a README table of {len(table) - 2} rows: move it to a docs/ page"
    for generated in ("model-table:start", "weights-table:start"):
        assert generated not in text


def test_the_docs_index_links_every_docs_page():
    index = (ROOT / "docs" / "README.md").read_text()
    linked = set(re.findall(r"\]\(([^)#]+\.md)", index))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"README.md"}
    assert pages <= linked, f"docs/README.md does not link {sorted(pages - linked)}"
    assert "docs/README.md" in (ROOT / "README.md").read_text()


COMMAND = re.compile(r"^(\$ |cnnzoo |python |curl |torchrun |pip )")


def test_every_documented_command_is_run_by_the_check_or_marked_not_run():
    """A block of commands is a run block (the tour runs it) or says why not (``<!-- not run: ... -->``)."""
    unmarked = []
    for path in DOC_PAGES:
        for above, fence, body in _fenced_blocks(path):
            if fence in ("```python", "```pycon", "```text") and not any(COMMAND.match(b) for b in body):
                continue
            marked = tour.RUN.match(above) or above.startswith("<!-- not run:")
            if any(COMMAND.match(line) for line in body) and not marked:
                unmarked.append(f"{path.relative_to(ROOT)}: {fence} {body[0][:60]}")
    assert not unmarked, "commands neither run nor marked <!-- not run: why -->:\n" + "\n".join(unmarked)


def test_a_changed_accuracy_digit_in_the_readmes_paths_fails_the_check():
    """The student's and the engineer's recorded accuracies are compared to the digit on the same CPU."""
    blocks = tour.parse_page((ROOT / "README.md").read_text().splitlines(), "README.md")
    lines = [
        line
        for b in blocks
        for c in b.commands
        if c.text in ("cnnzoo train lenet5", "cnnzoo eval runs/looks/best.pt")
        for line in c.output
        if re.search(r"top-1 0\.\d{4}", line)
    ]
    assert len(lines) >= 2
    for line in lines:
        figure = re.search(r"top-1 0\.(\d{4})", line)
        digit = figure.group(1)[0]
        changed = line.replace(figure.group(0), f"top-1 0.{(int(digit) + 1) % 10}{figure.group(1)[1:]}")
        assert tour.lines_match(line, line, same_cpu=True)
        assert not tour.lines_match(line, changed, same_cpu=True)


def _script(name: str):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def _block(path: Path, start: str, end: str) -> str:
    text = path.read_text()
    return text[text.index(start) + len(start) : text.index(end)].strip("\n")


def test_the_weights_table_in_docs_is_the_one_its_script_writes():
    wt = _script("weights_table")
    assert wt.PAGE == ROOT / "docs" / "pretrained.md"
    assert _block(wt.PAGE, wt.START, wt.END) == wt.table().strip("\n")


def test_the_model_table_in_docs_lists_every_model_and_its_lenet_rows_are_current():
    """The whole table takes minutes to profile; every name is checked, and LeNet-5's rows recomputed."""
    import cnnzoo

    mt = _script("model_table")
    assert mt.PAGE == ROOT / "docs" / "models.md"
    rows = _block(mt.PAGE, mt.START, mt.END).splitlines()
    names = [r.split(" | ")[0].lstrip("| ") for r in rows if r.startswith("| ") and " | " in r][1:]
    assert names == cnnzoo.list_models()
    for name in cnnzoo.list_models("lenet5*"):
        assert mt.row(name) in rows
    assert "| lenet5 | lenet | 1998 | 1x32x32 | 60,000 | 60,000 | 326.5 K | — |" in "\n".join(rows)


def test_a_background_command_gets_the_ctrl_c_even_where_the_tour_ignores_sigint(tmp_path):
    """A job that a non-interactive shell starts with ``&`` (CI scripts, nohup ... &) ignores SIGINT, and a
    shell cannot trap a signal ignored on entry: the tour's background command must still see its Ctrl-C
    (it used to be killed after 60 s instead, its last words lost)."""
    import signal

    page = _background_page(tmp_path)
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert tour.main(["--write", str(page)]) == 0
    finally:
        signal.signal(signal.SIGINT, old)
    assert f"$ {SERVER}\nup\nstopped\n$ until" in page.read_text()
