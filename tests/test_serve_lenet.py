"""``cnnzoo serve``, issues #25 and #27.1: the shipped LeNet-5 and its figure, the inspector's numbers, the
lecture widgets against autograd, answers under 8 concurrent clients, and the Draw page in headless Chromium
(C3 hover lights exactly Table I's inputs, the inspector's weighted sum is the network's pre-activation, the
3D view renders and picks, every control is reached by keyboard, the answer stays in view on a phone)."""

from __future__ import annotations

import base64
import io
import json
import random
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("fastapi", reason='cnnzoo serve needs fastapi (pip install -e ".[serve]")')
from fastapi.testclient import TestClient  # noqa: E402

from cnnzoo.models.lenet import C3_TABLE  # noqa: E402
from cnnzoo.serve import app as web  # noqa: E402
from cnnzoo.serve import core, widgets  # noqa: E402
from cnnzoo.serve.strokes import render_digit, stroke_digits  # noqa: E402
from cnnzoo.serve.weights import SHIPPED_LENET5, state_digest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_serve import ServerThread, chromium_paths, make_browser  # noqa: E402


@pytest.fixture(scope="module")
def shipped() -> core.LoadedModel:
    return core.load_draw_model(None)


@pytest.fixture(scope="module")
def client(shipped: core.LoadedModel) -> TestClient:
    return TestClient(web.create_app(web.ServeState(draw=shipped)))


def f32(entry: dict) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(base64.b64decode(entry["f32"]), dtype="<f4").copy())


# ------------------------------------------------------------------------------------ the shipped model
def test_shipped_lenet5_is_the_paper_network_with_its_record() -> None:
    """A few hundred KB inside the package, the paper's lenet5 (60,000 parameters), its record naming the
    data,
    the protocol and the test figure; the weights are the ones the record's digest names."""
    from cnnzoo.checkpoint import load_checkpoint

    assert 150_000 < SHIPPED_LENET5.stat().st_size < 600_000
    ckpt = load_checkpoint(SHIPPED_LENET5)
    prov = ckpt.run["provenance"]
    assert ckpt.version == 2 and ckpt.record.name == "lenet5" and ckpt.record.dataset == "mnist-5k"
    assert ckpt.record.classes == tuple(str(i) for i in range(10)) and ckpt.record.input_size == (1, 32, 32)
    assert (prov["train_images"], prov["val_images"], prov["test_images"]) == (4500, 500, 10000)
    assert prov["script"] == "benchmarks/lenet5_mnist.py" and "best validation epoch" in prov["protocol"]
    assert state_digest(ckpt.state_dict) == prov["state_sha256"]
    sys.path.insert(0, str(REPO / "benchmarks"))
    import lenet5_mnist  # the reproduction script: its protocol is the one recorded

    assert f"{lenet5_mnist.EPOCHS} epochs, seed {lenet5_mnist.SEED}" in prov["protocol"]
    assert round(5000 * lenet5_mnist.VAL_FRACTION) == prov["val_images"]
    model, _ = core.load_draw_model(None).model, None
    assert sum(p.numel() for p in model.parameters()) == 60_000


def test_shipped_lenet5_test_figure_holds_on_mnist_t10k(mnist_dir: Path, shipped: core.LoadedModel) -> None:
    """Re-checks the figure the file records: its accuracy on MNIST's 10,000 test digits (t10k, never seen in
    training or selection), evaluated as the training run did (28x28 padded to 32, the record's mean/std)."""
    from cnnzoo.checkpoint import load_checkpoint
    from cnnzoo.data import named

    files = named.find_idx_files(named.MNIST, ("t10k",), str(mnist_dir))
    images, labels = named.load_idx_pair(*files["t10k"], 10000)
    x = torch.from_numpy(np.array(images)).float().div(255)[:, None]
    x = F.pad(x, (2, 2, 2, 2))
    x = shipped.normalise(x)
    with torch.no_grad():
        pred = torch.cat([shipped.model(x[i : i + 1000]).argmax(1) for i in range(0, 10000, 1000)])
    acc = float((pred == torch.from_numpy(np.asarray(labels, np.int64))).float().mean())
    recorded = load_checkpoint(SHIPPED_LENET5).run["provenance"]["test_top1"]
    assert acc >= 0.97
    assert abs(acc - recorded) <= 3e-4, (acc, recorded)  # +-3 digits: other CPUs' float kernels


def test_drawn_stroke_digits_are_read(client: TestClient) -> None:
    """40 digits drawn by our stroke renderer (not MNIST pixels) through POST /api/draw: at least 90% right
    (the benchmark's 1,000 give the acceptance figure, >= 95%)."""
    right = 0
    for label, png in stroke_digits(4, seed=123):
        r = client.post("/api/draw", files={"image": ("d.png", png, "image/png")})
        right += r.json()["top5"][0]["name"] == str(label)
    assert right >= 36, right


def test_page_names_the_model_and_its_training_data(client: TestClient) -> None:
    card = client.get("/api/info").json()["draw"]["card"]
    assert card["model"] == "lenet5" and card["shipped"] and "MNIST" in card["data"]
    assert card["test_images"] == 10000 and card["test_top1"] > 0.97
    assert "Gradient-Based Learning" in card["paper"]


def test_digit_tensor_puts_the_centre_of_mass_in_the_middle() -> None:
    """An L-shaped drawing: its ink box is 20 tall, and its centre of mass (not its box) sits at the middle of
    the 28x28 field, i.e. at (15.5, 15.5) of the 32x32 input, to within half a pixel."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (280, 280), 0)
    d = ImageDraw.Draw(im)
    d.rectangle([60, 40, 90, 240], fill=255)
    d.rectangle([60, 210, 200, 240], fill=255)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    x = core.digit_tensor(buf.getvalue())[0]
    rows = x.sum(1).nonzero().flatten()
    assert int(rows[-1] - rows[0]) + 1 == 20
    m = x.sum()
    cy = float((x.sum(1) * torch.arange(32)).sum() / m)
    cx = float((x.sum(0) * torch.arange(32)).sum() / m)
    assert abs(cy - 15.5) <= 0.5 and abs(cx - 15.5) <= 0.5, (cy, cx)


# ------------------------------------------------------------------------------------------- inspector data
def test_params_are_the_model_weights_and_c3_follows_table_i(client: TestClient, shipped) -> None:  # noqa: ANN001
    p = client.get("/api/lenet/params?encoding=f32").json()
    m = shipped.model
    assert torch.equal(f32(p["c1"]["weight"]).view(6, 1, 5, 5), m.c1.conv.weight.detach())
    w3, b3 = m.c3.conv.dense_weight()
    got = f32(p["c3"]["weight"]).view(16, 6, 5, 5)
    assert torch.equal(got, w3.detach()) and torch.equal(f32(p["c3"]["bias"]), b3.detach())
    assert [tuple(r) for r in p["c3"]["table"]] == list(C3_TABLE)
    for k, row in enumerate(C3_TABLE):  # zero kernels exactly where Table I has no connection
        assert [j for j in range(6) if got[k, j].abs().sum() > 0] == list(row)
    assert torch.equal(f32(p["s2"]["coef"]), m.s2.pool.weight.detach())
    assert torch.equal(f32(p["output"]["prototypes"]).view(10, 84), m.output.prototypes)
    assert p["squash"] == {"A": 1.7159, "S": 2 / 3} and p["c3"]["act"] == "scaled_tanh"
    dec = client.get("/api/lenet/params?encoding=json").json()
    assert torch.allclose(
        torch.tensor(dec["f6"]["weight"]["values"]), m.f6.fc.weight.detach().flatten(), atol=1e-6
    )


def test_draw_answer_carries_every_number_the_inspector_needs(client: TestClient, shipped) -> None:  # noqa: ANN001
    """With encoding=f32 the layers are exact float32; a C3 unit's weighted sum computed from the answer and
    the weights equals the network's pre-activation (C3's convolution output) to 1e-5."""
    png = render_digit(3, random.Random(5))
    rec = client.post(
        "/api/draw", files={"image": ("d.png", png, "image/png")}, data={"encoding": "f32"}
    ).json()
    plain = client.post("/api/draw", files={"image": ("d.png", png, "image/png")}).json()
    s2 = f32(rec["layers"][1]).view(6, 14, 14)
    assert torch.allclose(s2.flatten(), torch.tensor(plain["layers"][1]["values"]), atol=6e-5)
    x = f32(rec["x"]).view(1, 1, 32, 32)
    m = shipped.model
    with torch.no_grad():
        pre = m.c3.conv(m.s2(m.c1(x)))
    with torch.no_grad():
        w, b = m.c3.conv.dense_weight()
    k, y, xx = 9, 4, 3
    a = sum(float((s2[j, y : y + 5, xx : xx + 5] * w[k, j]).sum()) for j in C3_TABLE[k]) + float(b[k])
    assert abs(a - float(pre[0, k, y, xx])) < 1e-5


def test_overlays_are_computed_only_when_asked(shipped, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import cnnzoo.explain as explain_mod

    calls = []
    real = explain_mod.explain
    monkeypatch.setattr(explain_mod, "explain", lambda *a, **k: calls.append(1) or real(*a, **k))
    png = render_digit(7, random.Random(0))
    assert core.draw_record(shipped, png)["overlay"] is None and calls == []
    assert core.draw_record(shipped, png, "gradcam")["overlay"]["method"] == "gradcam" and calls == [1]


# ------------------------------------------------------------------------------------------- concurrency
def test_8_concurrent_clients_mixing_overlays_get_the_single_client_answers(shipped) -> None:  # noqa: ANN001
    """#27.1: 8 clients send 200 requests through a real server, mixing four drawings with no overlay,
    saliency and Grad-CAM; every answer equals the one a single client gets for the same request."""
    import httpx

    rng = random.Random(0)
    pngs = [render_digit(d, rng) for d in (0, 3, 7, 8)]
    jobs = [(i % 4, ("none", "saliency", "gradcam")[(i // 4) % 3]) for i in range(200)]
    rng.shuffle(jobs)

    def strip(rec: dict) -> str:
        rec.pop("ms")
        return json.dumps(rec, sort_keys=True)

    with ServerThread(web.ServeState(draw=shipped)) as url:

        def ask(c: httpx.Client, img: int, ov: str) -> str:
            r = c.post(
                f"{url}/api/draw", files={"image": ("d.png", pngs[img], "image/png")}, data={"overlay": ov}
            )
            return f"{r.status_code} " + (strip(r.json()) if r.status_code == 200 else r.text)

        with httpx.Client(timeout=60) as c:
            single = {(i, ov): ask(c, i, ov) for i in range(4) for ov in ("none", "saliency", "gradcam")}
        answers: list[tuple[tuple[int, str], str]] = []
        lock = threading.Lock()

        def client_loop(part: list[tuple[int, str]]) -> None:
            with httpx.Client(timeout=120) as c:
                for job in part:
                    got = ask(c, *job)
                    with lock:
                        answers.append((job, got))

        threads = [threading.Thread(target=client_loop, args=(jobs[k::8],)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    assert len(answers) == 200
    wrong = [job for job, got in answers if got != single[job]]
    assert wrong == [], f"{len(wrong)} of 200 answers differ from the single-client ones: {wrong[:5]}"
    assert all(single[k].startswith("200 ") for k in single)


# ------------------------------------------------------------------------------------------- widgets
DECK_OUT = [[9, 8, 8], [9, 6, 6], [7, 7, 7]]
DECK_GRAD = [[0, 0, 4, 0, 0], [2, 0, 0, 0, 0], [0, 0, 6, 0, 0], [0, 0, 0, 0, 0], [0, 8, 0, 0, 1]]


def test_maxpool_widget_gives_the_decks_values_and_autograds_gradients(client: TestClient) -> None:
    """The second deck's slides 19-31: 3x3 windows at stride 1 on its 5x5 activation pool to 9 8 8 / 9 6 6 /
    7 7 7; its upstream gradients 1 3 1 / 1 4 2 / 6 2 1 route to the maxima and add where windows share one
    (the 8 at (0,2) gets +3 then +1 = 4, as the slides' "+3", "+4")."""
    rec = client.post("/api/maxpool", json={}).json()
    assert rec["output"] == DECK_OUT and rec["upstream"] == [[1, 3, 1], [1, 4, 2], [6, 2, 1]]
    x = torch.tensor(widgets.DECK_GRID, dtype=torch.float64, requires_grad=True)
    F.max_pool2d(x[None, None], 3, 1).backward(torch.tensor(rec["upstream"], dtype=torch.float64)[None, None])
    assert rec["gradient"] == x.grad.int().tolist() == DECK_GRAD
    assert rec["steps_sum_ok"] and rec["steps"][-1]["after"] == DECK_GRAD
    assert rec["steps"][0]["argmax"] == [1, 0] and rec["steps"][0]["after"][1][0] == 1  # slide 27: +1
    assert rec["steps"][1]["after"][0][2] == 3 and rec["steps"][2]["after"][0][2] == 4  # +3, then +4
    assert sorted(rec["overlaps"]) == [[0, 2], [1, 0], [2, 2], [4, 1]]


def test_maxpool_widget_any_grid_window_stride_matches_autograd(client: TestClient) -> None:
    gen = torch.Generator().manual_seed(1)
    for h, w, k, s in ((4, 7, 3, 1), (6, 6, 2, 2), (7, 5, 3, 2), (5, 8, 2, 3)):
        grid = torch.randint(0, 20, (h, w), generator=gen).tolist()
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        up = torch.randint(1, 5, (oh, ow), generator=gen).tolist()
        rec = client.post(
            "/api/maxpool", json={"grid": grid, "window": k, "stride": s, "upstream": up}
        ).json()
        x = torch.tensor(grid, dtype=torch.float64, requires_grad=True)
        y = F.max_pool2d(x[None, None], k, s)
        y.backward(torch.tensor(up, dtype=torch.float64)[None, None])
        assert rec["output"] == y[0, 0].int().tolist() and rec["gradient"] == x.grad.int().tolist()
        assert len(rec["steps"]) == oh * ow and rec["steps_sum_ok"]
        assert bool(rec["dropped"]) == bool((h - k) % s or (w - k) % s)
    bad = client.post("/api/maxpool", json={"grid": [[1, 2], [3, 4]], "window": 3})
    assert bad.status_code == 400 and bad.json()["error"] == (
        "a 3x3 window does not fit in a 2x2 grid; use a smaller window."
    )
    ragged = client.post("/api/maxpool", json={"grid": [[1, 2], [3]]})
    assert ragged.status_code == 400 and "same number of values" in ragged.json()["error"]


def test_conv_playground_sizes_arithmetic_and_doesnt_fit(client: TestClient) -> None:
    """The output size is F.conv2d's for every setting; "doesn't fit" exactly when (N + 2P - D(K-1) - 1)/S
    is not whole; the spelled-out sum is F.conv2d's value; the receptive field spans D(K-1)+1."""
    for n, k, p, s, d in (
        (7, 3, 0, 2, 1),
        (8, 3, 0, 2, 1),
        (227, 11, 0, 4, 1),
        (10, 3, 1, 1, 2),
        (9, 4, 2, 3, 1),
    ):
        if n > widgets.MAX_CONV_SIDE:
            out_n, fits = widgets.conv_output_size(n, k, p, s, d)
            assert (out_n, fits) == (55, True)  # AlexNet's conv1, the lecture's example
            continue
        rec = client.post(
            "/api/conv", json={"size": n, "kernel": k, "padding": p, "stride": s, "dilation": d}
        ).json()
        x = torch.tensor(rec["input"], dtype=torch.float64)[None, None]
        w = torch.tensor(rec["weight"], dtype=torch.float64)[None, None]
        out = F.conv2d(x, w, padding=p, stride=s, dilation=d)[0, 0]
        assert rec["output_size"] == out.shape[0] and rec["output"] == out.int().tolist()
        assert rec["fits"] == ((n + 2 * p - d * (k - 1) - 1) % s == 0)
        i, j = rec["unit"]
        assert rec["sum"] == int(out[i, j]) == sum(t["x"] * t["w"] for t in rec["terms"])
        assert rec["receptive_field"]["span"] == d * (k - 1) + 1
    assert (
        client.post("/api/conv", json={"size": 8, "kernel": 3, "stride": 2})
        .json()["message"]
        .startswith("doesn't fit: (8 + 2x0 - 3) / 2 = 2.5 is not whole")
    )
    too_big = client.post("/api/conv", json={"size": 3, "kernel": 5})
    assert too_big.status_code == 400 and "spans 5 pixels" in too_big.json()["error"]


# ------------------------------------------------------------------------------------------- the Photo page
def test_photo_takes_a_checkpoint_and_name_at_weights(tmp_path: Path) -> None:
    """--photo takes a cnnzoo checkpoint (its own classes and input) and NAME@WEIGHTS; both through
    classify.load_model. Giving the weights twice is one sentence."""
    from cnnzoo.errors import CnnzooError
    from cnnzoo.factory import create_model

    lm = core.load_photo_model(str(SHIPPED_LENET5))
    assert lm.record.classes == tuple(str(i) for i in range(10)) and (lm.in_chans, lm.size) == (
        1,
        (32, 32),
    )
    c = TestClient(web.create_app(web.ServeState(photo=lm)))
    r = c.post("/api/photo", files={"image": ("d.png", render_digit(4, random.Random(2)), "image/png")})
    assert r.status_code == 200 and r.json()["top5"][0]["name"] in lm.record.class_names()
    torch.manual_seed(0)
    wfile = tmp_path / "r18.pt"
    torch.save(create_model("resnet18").state_dict(), wfile)
    at = core.load_photo_model(f"resnet18@{wfile}")
    assert at.name == "resnet18" and at.source == f"resnet18@{wfile}" and len(at.record.class_names()) == 1000
    with pytest.raises(CnnzooError, match="already names its weights"):
        core.load_photo_model(f"resnet18@{wfile}", str(wfile))


def test_messages_are_readable() -> None:
    assert web.too_large_message(8 * 2**20).startswith(
        "the file is larger than this server's 8 MB upload limit"
    )
    assert web.human_bytes(1536) == "1.5 KB" and web.human_bytes(4096) == "4 KB"
    assert "--photo efficientnet_lite0" in web.HOW_TO_PHOTO and "--photo-weights" not in web.HOW_TO_PHOTO


def test_the_photo_pages_hint_names_weights_that_exist() -> None:
    """Each `--photo NAME@WEIGHTS` the page suggests splits as serve splits it and is in the weights table."""
    import re

    from cnnzoo.weights.table import ENTRIES

    refs = re.findall(r"--photo ([\w.]+@[\w:.-]+)", web.HOW_TO_PHOTO)
    assert refs
    for ref in refs:
        name, weights = core.split_photo_ref(ref)
        assert any(e.model == name and e.key == weights for e in ENTRIES), ref


def test_three_js_is_vendored_with_its_licence(client: TestClient) -> None:
    vendor = web.STATIC / "vendor" / "three"
    assert "MIT License" in (vendor / "LICENSE").read_text()
    for name in ("three.module.min.js", "OrbitControls.js"):
        assert client.get(f"/static/vendor/three/{name}").status_code == 200
    page = client.get("/").text
    assert '"three": "/static/vendor/three/three.module.min.js"' in page and "cdn" not in page.lower()
    for asset in ("inspector.js", "widgets.js", "view3d.js"):
        text = (web.STATIC / asset).read_text()
        assert "http://" not in text and "https://" not in text


# ------------------------------------------------------------------------------------------- the browser
def draw_in_browser(drv, url: str) -> None:  # noqa: ANN001
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    drv.get(url + "/")
    WebDriverWait(drv, 30).until(lambda d: d.execute_script("return INFO !== null && INFO.draw !== null"))
    WebDriverWait(drv, 30).until(lambda d: d.execute_script("return INSPECT.params !== null"))
    pad = drv.find_element(By.ID, "pad")
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", pad)
    chain = ActionChains(drv).move_to_element_with_offset(pad, -50, -90).click_and_hold()
    chain = chain.move_by_offset(100, 0).move_by_offset(-60, 180)
    chain.release().perform()
    # settled: an answer arrived and none is being encoded, sent or waiting (the page's own state)
    WebDriverWait(drv, 60).until(
        lambda d: d.execute_script("return sent >= 1 && !drawing && !inFlight && !pending")
    )


def until_shown(drv, act, check, timeout: float = 60):  # noqa: ANN001, ANN201
    """Do ``act(drv)`` (hover or click a unit) until ``check(drv)`` returns what the inspector shows. The act
    finds its element itself, so an element the page has re-rendered since is found again, not used stale;
    on a slow machine the inspector may answer after the act returns, so the check is polled."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def attempt(d):  # noqa: ANN001, ANN202
        act(d)
        return WebDriverWait(d, 5, ignored_exceptions=(StaleElementReferenceException,)).until(check)

    stale_or_slow = (StaleElementReferenceException, TimeoutException)
    return WebDriverWait(drv, timeout, ignored_exceptions=stale_or_slow).until(attempt)


def inspector(layer: str, map_: int | None = None):  # noqa: ANN201
    """A check for :func:`until_shown`: the inspector's numbers once it shows a unit of ``layer`` (map)."""

    def check(d):  # noqa: ANN001, ANN202
        got = d.execute_script("return Object.assign({}, document.getElementById('inspector-body').dataset)")
        if got.get("layer") != layer or (map_ is not None and got.get("map") != str(map_)):
            return False
        return got

    return check


def network_values(shipped, drv):  # noqa: ANN001, ANN201
    """Every layer's pre-activation for the drawing on the page, computed here from the pad's own pixels."""
    url = drv.execute_script("return document.getElementById('pad').toDataURL('image/png')")
    x = shipped.normalise(core.digit_tensor(base64.b64decode(url.split(",", 1)[1]), shipped.size))[None]
    m, pre = shipped.model, {}
    with torch.no_grad():
        c1 = m.c1(x)
        pre["c1"] = m.c1.conv(x)
        pre["s2"] = m.s2.pool(c1)
        s2 = m.s2(c1)
        pre["c3"] = m.c3.conv(s2)
        s4 = m.s4(m.c3(s2))
        pre["c5"] = m.c5.conv(s4).flatten()
        pre["f6"] = m.f6.fc(m.c5(s4).flatten(1))[0]
        pre["output"] = m.output.distances(m.f6(m.c5(s4).flatten(1)))[0]
    return pre


@pytest.mark.slow
def test_browser_inspector_table_i_and_weighted_sums(shipped, tmp_path: Path) -> None:  # noqa: ANN001
    """Hover a unit of each C3 map: the lit S2 maps and Table I's lit X's are exactly C3_TABLE[k]; for units
    of
    every layer the inspector's weighted sum equals the network's pre-activation (to 1e-4) and its squashed
    output the layer's value."""
    chromium_paths()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    with ServerThread(web.ServeState(draw=shipped)) as url:
        drv = make_browser(tmp_path)
        try:
            draw_in_browser(drv, url)
            pre = network_values(shipped, drv)
            for k in range(16):

                def hover(d, k=k):  # noqa: ANN001, ANN202
                    cv = d.find_element(By.CSS_SELECTOR, f'canvas.map[data-layer="c3"][data-map="{k}"]')
                    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", cv)
                    ActionChains(d).move_to_element_with_offset(cv, 5, -3).perform()

                until_shown(drv, hover, inspector("c3", k))
                got = drv.execute_script(
                    "const b = document.getElementById('inspector-body').dataset;"
                    "return {layer: b.layer, map: +b.map, y: +b.y, x: +b.x, a: +b.a,"
                    " feeds: [...document.querySelectorAll('.layer[data-layer=s2] .mapwrap.feeds canvas')]"
                    ".map((c) => +c.dataset.map),"
                    " hits: [...document.querySelectorAll('#table1 td.hit')].map((c) => +c.dataset.s2)}"
                )
                assert (got["layer"], got["map"]) == ("c3", k)
                assert got["feeds"] == list(C3_TABLE[k]) and got["hits"] == list(C3_TABLE[k]), k
                assert abs(got["a"] - float(pre["c3"][0, k, got["y"], got["x"]])) < 1e-4
            checks = {
                "c1": lambda u: pre["c1"][0, u["map"], u["y"], u["x"]],
                "s2": lambda u: pre["s2"][0, u["map"], u["y"], u["x"]],
                "c5": lambda u: pre["c5"][u["map"]],
                "f6": lambda u: pre["f6"][u["map"]],
            }
            for layer, want in checks.items():

                def click(d, layer=layer):  # noqa: ANN001, ANN202
                    cv = d.find_element(By.CSS_SELECTOR, f'canvas.map[data-layer="{layer}"]')
                    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", cv)
                    ActionChains(d).move_to_element_with_offset(cv, 3, 2).click().perform()

                u = until_shown(drv, click, inspector(layer))
                u = {
                    k: float(v) if k in ("a", "out") else (int(v) if k != "layer" else v)
                    for k, v in u.items()
                }
                assert u["layer"] == layer and abs(u["a"] - float(want(u))) < 1e-4, (layer, u)

            def click_output(d):  # noqa: ANN001, ANN202
                cell = d.find_element(By.CSS_SELECTOR, '.rbf .cls[data-map="3"]')
                ActionChains(d).move_to_element(cell).click().perform()

            a = float(until_shown(drv, click_output, inspector("output", 3))["a"])
            assert abs(a - float(pre["output"][3])) < 1e-3
            assert "softmax of minus the distances" in drv.find_element(By.ID, "inspector-body").text
        finally:
            drv.quit()


@pytest.mark.slow
def test_browser_3d_view_renders_and_picks(shipped, tmp_path: Path) -> None:  # noqa: ANN001
    """The 3D canvas (three.js on headless Chromium's software WebGL) shows the drawing (pixel variance), and
    a click on a C3 unit selects it: the inspector shows it and its connections are drawn."""
    chromium_paths()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with ServerThread(web.ServeState(draw=shipped)) as url:
        drv = make_browser(tmp_path)
        try:
            draw_in_browser(drv, url)
            WebDriverWait(drv, 30).until(lambda d: d.execute_script("return window.VIEW3D && VIEW3D.ready"))
            view = drv.find_element(By.ID, "view3d")
            drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", view)
            time.sleep(0.5)
            shot = drv.execute_script("return document.getElementById('view3d').toDataURL('image/png')")
            from PIL import Image

            px = np.asarray(
                Image.open(io.BytesIO(base64.b64decode(shot.split(",", 1)[1]))).convert("L"), float
            )
            assert px.std() > 10, px.std()  # not a blank canvas
            assert (
                drv.execute_script("return VIEW3D.units") == 1024 + 4704 + 1176 + 1600 + 400 + 120 + 84 + 10
            )
            unit = {"layer": "c3", "map": 5, "y": 5, "x": 5}
            pt = drv.execute_script("return VIEW3D.unitScreen(arguments[0])", unit)
            r = drv.execute_script("return arguments[0].getBoundingClientRect().toJSON()", view)
            dx, dy = pt["x"] - (r["left"] + r["width"] / 2), pt["y"] - (r["top"] + r["height"] / 2)
            ActionChains(drv).move_to_element_with_offset(view, round(dx), round(dy)).click().perform()
            WebDriverWait(drv, 10).until(lambda d: d.execute_script("return VIEW3D.selected !== null"))
            assert drv.execute_script("return VIEW3D.selected") == unit
            body = drv.execute_script(
                "return Object.assign({}, document.getElementById('inspector-body').dataset)"
            )
            assert (body["layer"], body["map"]) == ("c3", "5")
            assert "connection(s) from s2" in drv.find_element(By.ID, "view3d-status").text
        finally:
            drv.quit()


@pytest.mark.slow
def test_browser_keyboard_reaches_every_control_and_phone_sees_the_answer(shipped, tmp_path: Path) -> None:  # noqa: ANN001
    """Tab alone reaches every control of the Draw, Worked examples and Photo pages (file buttons, radios'
    group, every layer map, the output units, the 3D view); on a 390-pixel-wide phone screen the answer sits
    in view above the pad while drawing."""
    chromium_paths()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    ready = {  # each page's controls are all there once the answers they are built from have arrived
        "/widgets": "return !!(WIDGETS.pool && WIDGETS.conv && document.getElementById('pool-next')"
        " && document.querySelector('#conv-out td.pick'))",
        "/photo": "return INFO !== null && document.getElementById('photo-model-line').textContent !== ''",
    }
    focusable = (
        "return [...document.querySelectorAll("
        "'a[href], button, input, textarea, select, summary, [tabindex]')]"
        ".filter((e) => e.offsetParent !== null || (e.closest('.file') && e.closest('.file').offsetParent))"
        ".filter((e) => e.tagName === 'SUMMARY' || !e.closest('details:not([open])'))"
        ".filter((e) => !(e.type === 'radio' && !e.checked) && e.tabIndex >= 0 && !e.disabled)"
        ".map((e, i) => { e.dataset.kb = e.dataset.kb || ('k' + i); return e.dataset.kb; })"
    )
    with ServerThread(web.ServeState(draw=shipped, photo=core.load_photo_model(str(SHIPPED_LENET5)))) as url:
        drv = make_browser(tmp_path)
        try:
            for page in ("/", "/widgets", "/photo"):
                if page == "/":
                    draw_in_browser(drv, url)
                else:
                    drv.get(url + page)
                    WebDriverWait(drv, 60).until(lambda d, page=page: d.execute_script(ready[page]))
                want = set(drv.execute_script(focusable))
                drv.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
                reached = set()
                for _ in range(len(want) + 20):
                    ActionChains(drv).send_keys(Keys.TAB).perform()  # the keyboard, not an element's value
                    kb = drv.execute_script("return document.activeElement.dataset.kb || null")
                    if kb:
                        reached.add(kb)
                missing = drv.execute_script(
                    "return arguments[0].map((k) => { const e = document.querySelector(`[data-kb=${k}]`);"
                    " return e ? e.id || e.outerHTML.slice(0, 80) : k + ' (gone)'; })",
                    sorted(want - reached),
                )
                assert not missing, (page, missing)
                if page == "/":
                    n_maps = drv.execute_script("return document.querySelectorAll('canvas.map').length")
                    assert n_maps == 46 and {"draw-file", "clear", "view3d"} <= set(
                        drv.execute_script(
                            "return arguments[0].map((k) => document.querySelector(`[data-kb=${k}]`).id)",
                            sorted(reached),
                        )
                    )
                    # a new answer (the next stroke's) repaints the maps in place: the map a keyboard user is
                    # on keeps the focus, and an opened note stays open
                    before = drv.execute_script(
                        "const c = document.querySelector('canvas.map[data-layer=c3][data-map=\"5\"]');"
                        "document.querySelector('.layer[data-layer=c3] details').open = true;"
                        "c.focus(); window.KEPT = c; const n = sent; askDraw(); return n;"
                    )
                    WebDriverWait(drv, 60).until(
                        lambda d, n=before: d.execute_script(f"return sent > {n} && !inFlight && !pending")
                    )
                    assert drv.execute_script(
                        "return document.activeElement === KEPT && KEPT.isConnected"
                        " && document.querySelector('.layer[data-layer=c3] details').open"
                    )
        finally:
            drv.quit()
        phone = make_browser(tmp_path / "phone", size="390,844")
        try:
            draw_in_browser(phone, url)
            box = phone.execute_script(
                "const a = document.getElementById('answer-mini').getBoundingClientRect(),"
                " p = document.getElementById('pad').getBoundingClientRect();"
                "return {a: a.toJSON(), p: p.toJSON(), h: window.innerHeight,"
                " text: document.getElementById('answer-mini').textContent}"
            )
            assert "reads" in box["text"] and box["a"]["top"] >= 0 and box["a"]["bottom"] <= box["h"]
            assert box["a"]["bottom"] <= box["p"]["top"] + 1  # above the pad, visible while the finger draws
        finally:
            phone.quit()


def test_every_layer_note_links_to_a_docs_section() -> None:
    """Each layer's note on the page links /guide#ANCHOR; docs/serve.md has a heading with that anchor."""
    import re

    from cnnzoo.serve.lenet import NOTES

    text = (REPO / "docs" / "serve.md").read_text()
    slugs = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^### (.+)$", text, re.M)
    }
    assert {n["doc"] for n in NOTES.values()} <= slugs
    assert all(len(n["text"]) > 80 for n in NOTES.values())
