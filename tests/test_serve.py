"""``cnnzoo serve``: the records, the JSON API through the framework's test client, a real server (threads,
Ctrl-C) and one end-to-end run in headless Chromium."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("fastapi", reason='cnnzoo serve needs fastapi (pip install -e ".[serve]")')
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from cnnzoo.cli import main  # noqa: E402
from cnnzoo.serve import app as web  # noqa: E402
from cnnzoo.serve import core  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LENET_SHAPES = [[6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 5, 5], [120], [84], [10]]


@pytest.fixture(scope="module")
def lenet_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LeNet-5 trained 8 epochs on the digits (paper recipe; ~4 s on one core)."""
    from cnnzoo.train.run import train_model

    out = tmp_path_factory.mktemp("serve") / "lenet"
    res = train_model("lenet5", "digits", out=out, epochs=8, progress=False, threads=1, seed=0)
    return Path(res.best_checkpoint)


@pytest.fixture(scope="module")
def state(lenet_ckpt: Path) -> web.ServeState:
    return web.ServeState(draw=core.load_draw_model(str(lenet_ckpt)))


@pytest.fixture(scope="module")
def client(state: web.ServeState) -> TestClient:
    return TestClient(web.create_app(state))


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def stroke_png() -> bytes:
    """A vertical white stroke on a black 280x280 pad, as the page sends it."""
    im = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(im).line([(140, 40), (140, 240)], fill=255, width=20)
    return png(im)


def post_draw(client: TestClient, data: bytes, overlay: str = "none", name: str = "d.png"):  # noqa: ANN201
    return client.post("/api/draw", files={"image": (name, data, "image/png")}, data={"overlay": overlay})


# ------------------------------------------------------------------------------------------- records
def test_digit_tensor_places_the_ink_as_mnist() -> None:
    """A 100x50 ink box becomes 20x10 (longer side 20), centred in 32x32 at rows 6..25, columns 11..20;
    dark ink on white paper is inverted first."""
    im = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(im).rectangle([100, 60, 149, 159], fill=0)  # 50 wide, 100 tall
    x = core.digit_tensor(png(im))
    assert x.shape == (1, 32, 32)
    expect = torch.zeros(1, 32, 32)
    expect[0, 6:26, 11:21] = 1.0
    assert torch.allclose(x, expect, atol=1e-6)
    assert core.digit_tensor(png(Image.new("L", (50, 50), 0))).abs().sum() == 0  # blank stays blank


def test_draw_record_equals_the_model(state: web.ServeState) -> None:
    """Layers in LeNet-5's order with the paper's shapes; the values are the modules' outputs; the RBF entry
    is the squared distance to each prototype; top-5 is the softmax of -distances."""
    lm = state.draw
    rec = core.draw_record(lm, stroke_png())
    assert [la["name"] for la in rec["layers"]] == ["c1", "s2", "c3", "s4", "c5", "f6", "output"]
    assert [la["shape"] for la in rec["layers"]] == LENET_SHAPES
    x = lm.normalise(core.digit_tensor(stroke_png()))[None]
    m = lm.model
    with torch.no_grad():
        c1 = m.c1(x)
        f6 = m.f6(torch.flatten(m.c5(m.s4(m.c3(m.s2(c1)))), 1))
        dist = m.output.distances(f6)[0]
        probs = m(x)[0].softmax(0)
    assert torch.allclose(torch.tensor(rec["layers"][0]["values"]), c1.flatten(), atol=1e-4)
    assert torch.allclose(torch.tensor(rec["layers"][6]["values"]), dist, atol=1e-3)
    p, idx = probs.topk(5)
    assert [t["index"] for t in rec["top5"]] == idx.tolist()
    assert torch.allclose(torch.tensor([t["prob"] for t in rec["top5"]]), p, atol=1e-4)
    assert rec["top5"][0]["index"] == int(dist.argmin())


def test_drawn_real_digits_are_read(state: web.ServeState) -> None:
    """100 real test digits (never trained on), drawn as dark ink on white 280x280 pictures: the server's
    pipeline reads at least 75% right (LeNet-5 after 8 epochs: ~85%; a broken pipeline: ~10%)."""
    from cnnzoo.data.sources import load_digits_source

    test = load_digits_source().test
    right = 0
    for i in range(100):
        im = Image.fromarray((255 - test.images[i][0]).numpy()).resize((280, 280), Image.Resampling.BILINEAR)
        right += core.draw_record(state.draw, png(im))["top5"][0]["index"] == int(test.labels[i])
    assert right >= 75, right


# ------------------------------------------------------------------------------------------- API
def test_draw_endpoint(client: TestClient) -> None:
    r = post_draw(client, stroke_png(), overlay="gradcam")
    assert r.status_code == 200
    rec = r.json()
    assert [la["shape"] for la in rec["layers"]] == LENET_SHAPES
    assert len(rec["top5"]) == 5 and rec["top5"][0]["name"] in [str(i) for i in range(10)]
    assert rec["input"]["shape"] == [1, 32, 32] and len(rec["input"]["values"]) == 1024
    ov = rec["overlay"]
    assert ov["method"] == "gradcam" and ov["target"] == rec["top5"][0]["index"]
    assert ov["shape"] == [32, 32] and max(ov["values"]) == 1.0 and min(ov["values"]) == 0.0
    sal = post_draw(client, stroke_png(), overlay="saliency").json()["overlay"]
    assert sal["method"] == "saliency" and sal["layer"] is None
    bad = post_draw(client, stroke_png(), overlay="lrp")
    assert bad.status_code == 400 and "unknown overlay 'lrp'" in bad.json()["error"]


def test_info_and_pages(client: TestClient) -> None:
    info = client.get("/api/info").json()
    assert info["draw"]["model"] == "lenet5" and info["draw"]["record"]["input_size"] == [1, 32, 32]
    assert len(info["rbf_prototypes"]) == 10 and len(info["rbf_prototypes"][0]) == 84
    assert info["photo"] is None and "--photo" in info["photo_message"]
    assert len(info["models"]) >= 100
    for path in ("/", "/anatomy", "/photo", "/api"):
        r = client.get(path)
        assert r.status_code == 200 and '<script src="/static/app.js">' in r.text
    # every asset is served by the package: no http(s) URL in the pages' sources
    for asset in ("index.html", "app.js", "style.css"):
        text = (web.STATIC / asset).read_text()
        assert "http://" not in text.replace("http://127.0.0.1", "") and "https://" not in text
        assert client.get(f"/static/{asset}").status_code == 200


def test_no_draw_model_says_how_to_make_one() -> None:
    c = TestClient(web.create_app(web.ServeState()))
    assert "cnnzoo serve CHECKPOINT" in c.get("/api/info").json()["draw_message"]
    r = post_draw(c, stroke_png())
    assert r.status_code == 404 and "cnnzoo serve CHECKPOINT" in r.json()["error"]


def test_anatomy_endpoint(client: TestClient) -> None:
    """LeNet-5's table: 60,000 parameters, 326,520 MACs, receptive field 32 (the whole input); AlexNet's
    table as the one-column paper drew it at 224x224 flags conv1 as not fitting ((224 - 11)/4 + 1 = 54.25)."""
    rec = client.get("/api/anatomy/lenet5").json()
    p = rec["profile"]
    assert (p["total_params"], p["total_macs"], p["receptive_field"]) == (60_000, 326_520, 32)
    assert rec["info"]["year"] == 1998 and p["doesnt_fit"] == []
    c1 = next(r for r in p["layers"] if r["name"] == "c1.conv")
    assert (c1["output_shape"], c1["receptive_field"], c1["jump"]) == ([6, 28, 28], 5, 1)
    a = client.get("/api/anatomy/alexnet?input=3x224x224").json()["profile"]
    assert a["input"] == [3, 224, 224] and a["doesnt_fit"][0] == "features.conv1"
    unknown = client.get("/api/anatomy/alexnt")
    assert unknown.status_code == 400 and "alexnet" in unknown.json()["error"]
    assert client.get("/api/anatomy/lenet5?input=1x4x4").status_code == 400


def test_compare_endpoint(client: TestClient) -> None:
    rows = client.get("/api/compare?models=lenet5,resnet18").json()["models"]
    assert [(r["model"], r["total_params"]) for r in rows] == [("lenet5", 60_000), ("resnet18", 11_689_512)]
    assert rows[1]["paper_top1_error"] == 27.88
    assert client.get("/api/compare?models=").status_code == 400


def test_bad_uploads_are_messages_and_the_server_keeps_serving(client: TestClient) -> None:
    garbage = post_draw(client, b"this is not an image", name="/etc/passwd")
    assert garbage.status_code == 400 and "not an image" in garbage.json()["error"]
    truncated = post_draw(client, stroke_png()[:200])
    assert truncated.status_code == 400 and "error" in truncated.json()
    empty = post_draw(client, b"")
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    bomb = png(Image.new("1", (8000, 6000)))  # 48 million pixels in a few kB
    r = post_draw(client, bomb)
    assert r.status_code == 400 and "8000x6000 pixels" in r.json()["error"]
    assert post_draw(client, stroke_png()).status_code == 200


def test_oversized_upload_is_refused(lenet_ckpt: Path) -> None:
    small = TestClient(
        web.create_app(web.ServeState(draw=core.load_draw_model(str(lenet_ckpt)), max_upload_bytes=4096))
    )
    noise = Image.frombytes("L", (200, 200), os.urandom(40_000))  # incompressible: > 4 KiB as PNG
    r = post_draw(small, png(noise))
    assert r.status_code == 413 and "this server's 4 KB upload limit" in r.json()["error"]
    assert post_draw(small, stroke_png()).status_code == 200  # a small one still goes through

    def chunked():  # noqa: ANN202 (a body without Content-Length, sent in chunks)
        yield b'--xx\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
        for _ in range(10):
            yield b"\0" * 1000
        yield b"\r\n--xx--\r\n"

    r = small.post(
        "/api/draw", content=chunked(), headers={"content-type": "multipart/form-data; boundary=xx"}
    )
    assert r.status_code == 413 and "limit" in r.json()["error"]
    missing = small.post("/api/draw", data={"overlay": "none"})
    assert missing.status_code == 400 and missing.json()["error"].startswith("image: Field required")
    assert small.get("/api/nothing").json() == {"error": "Not Found"}


def test_photo_endpoint(tmp_path: Path) -> None:
    """The Photo page's model goes through create_model(name, weights=FILE); 1,000 classes get torchvision's
    ImageNet names."""
    from cnnzoo.factory import create_model

    torch.manual_seed(0)
    wfile = tmp_path / "resnet18.pt"
    torch.save(create_model("resnet18").state_dict(), wfile)
    lm = core.load_photo_model("resnet18", str(wfile))
    c = TestClient(web.create_app(web.ServeState(photo=lm)))
    photo = Image.new("RGB", (400, 300), (40, 120, 200))
    ImageDraw.Draw(photo).ellipse([150, 80, 260, 200], fill=(230, 200, 40))
    r = c.post("/api/photo", files={"image": ("p.jpg", png(photo), "image/png")}, data={"overlay": "gradcam"})
    assert r.status_code == 200
    rec = r.json()
    plain = c.post("/api/photo", files={"image": ("p.jpg", png(photo), "image/png")}).json()
    assert plain["overlay"] is None and plain["top5"] == rec["top5"]  # Grad-CAM only when asked for
    from cnnzoo.record import imagenet_classes

    names = imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and lm.model.cnnzoo_record.classes is None
    assert [t["name"] for t in rec["top5"]] == [names[t["index"]] for t in rec["top5"]]
    assert rec["image"].startswith("data:image/png;base64,") and rec["overlay"]["layer"] == "layer4"
    x = lm.normalise(core.photo_tensor(png(photo), lm.record))[None]
    with torch.no_grad():
        assert rec["top5"][0]["index"] == int(lm.model(x).argmax())
    assert (
        c.post("/api/photo", files={"image": ("p.jpg", b"\xff\xd8 broken", "image/jpeg")}).status_code == 400
    )


# ------------------------------------------------------------------------------------------- a real server
def test_photo_view_is_the_one_the_weights_record_names() -> None:
    """Inception v3's weights want the shorter side at 342, a 299 centre crop and bicubic resampling: the
    Photo page shows and classifies exactly what ``predict`` would (not the generic 256/224 view)."""
    import cnnzoo
    from cnnzoo.record import ModelRecord

    photo = Image.new("RGB", (500, 320), (40, 120, 200))
    ImageDraw.Draw(photo).ellipse([150, 60, 330, 260], fill=(230, 200, 40))
    rec = ModelRecord("inception_v3", input_size=(3, 299, 299), resize=342, crop=299, interpolation="bicubic")
    lm = core.LoadedModel(torch.nn.Identity(), rec, "x")
    seen = core.photo_tensor(png(photo), rec)
    assert seen.shape == (3, 299, 299)
    assert torch.allclose(
        lm.normalise(seen), cnnzoo.transforms(rec)(Image.open(io.BytesIO(png(photo)))), atol=1e-6
    )
    generic = core.photo_tensor(png(photo), rec.with_(interpolation="bilinear"))  # 342 too, but bilinear
    assert not torch.allclose(seen, generic, atol=1e-3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn serving ``state`` on a free 127.0.0.1 port in a background thread."""

    def __init__(self, state: web.ServeState) -> None:
        import uvicorn

        self.port = free_port()
        cfg = uvicorn.Config(web.create_app(state), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def test_a_slow_request_does_not_block_the_others(state: web.ServeState, monkeypatch) -> None:  # noqa: ANN001
    import httpx

    gate = threading.Event()

    def slow(names: list[str]) -> list[dict]:
        gate.wait(10)
        return [{"model": n} for n in names]

    monkeypatch.setattr(core, "compare_record", slow)
    with ServerThread(state) as url:
        result: dict = {}
        t = threading.Thread(
            target=lambda: result.update(r=httpx.get(f"{url}/api/compare?models=x", timeout=20))
        )
        t.start()
        time.sleep(0.3)
        fast = httpx.post(f"{url}/api/draw", files={"image": ("d.png", stroke_png(), "image/png")}, timeout=5)
        assert fast.status_code == 200 and not gate.is_set()  # answered while the slow one still waits
        gate.set()
        t.join(10)
        assert result["r"].json() == {"models": [{"model": "x"}]}


def test_cli_serves_and_stops_cleanly_on_ctrl_c(lenet_ckpt: Path) -> None:
    import httpx

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnnzoo", "serve", str(lenet_ckpt), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.communicate(timeout=5)[0]) from None
                time.sleep(0.2)
        assert r.json()["draw"]["source"] == str(lenet_ckpt)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert f"open http://127.0.0.1:{port}/" in out and "cnnzoo serve: stopped" in out
    assert "Traceback" not in out


def test_cli_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "lenet5", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert main(["serve", "--photo-weights", "x.pt", "--port", str(free_port())]) == 2
    assert "--photo-weights needs --photo" in capsys.readouterr().err
    assert main(["serve", "no/such.pt", "--port", str(free_port())]) == 2
    assert "does not exist" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- browser
def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed (apt-get install chromium "
            "chromium-driver; .ci/run does it)"
        )
    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
    return browser, driver


def make_browser(tmp_path: Path, size: str = "1280,1500"):  # noqa: ANN201
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    flags += ["--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
    flags += ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]  # software WebGL for the 3D view
    for flag in (*flags, f"--window-size={size}", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=opts)


def test_browser_draw_shows_prediction_and_layers(state: web.ServeState, tmp_path: Path) -> None:
    """Headless Chromium opens the Draw page, draws a stroke with pointer events, and the top-5 bars and the
    46 layer maps (6 + 6 + 16 + 16 + C5 + F6) appear in LeNet-5's order, with the RBF output."""
    chromium_paths()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with ServerThread(state) as url:
        drv = make_browser(tmp_path)
        try:
            drv.get(url + "/")
            WebDriverWait(drv, 20).until(
                lambda d: d.execute_script("return INFO !== null && INFO.draw !== null")
            )
            pad = drv.find_element(By.ID, "pad")
            chain = ActionChains(drv).move_to_element_with_offset(pad, 0, -90).click_and_hold()
            for _ in range(9):
                chain = chain.move_by_offset(0, 20)
            chain.release().perform()
            WebDriverWait(drv, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#top5 .bar")) == 5)
            WebDriverWait(drv, 30).until(
                lambda d: d.execute_script("return sent") >= 1 and d.execute_script("return !inFlight")
            )
            rows = drv.find_elements(By.CSS_SELECTOR, "#layers .layer")
            assert [r.get_attribute("data-layer") for r in rows] == [
                "c1",
                "s2",
                "c3",
                "s4",
                "c5",
                "f6",
                "output",
            ]
            assert len(drv.find_elements(By.CSS_SELECTOR, "#layers canvas.map")) == 46
            assert len(drv.find_elements(By.CSS_SELECTOR, "#layers .rbf .cls")) == 10
            assert drv.find_element(By.ID, "message").get_attribute("hidden") is not None
            # the stroke reached the server: the image the network saw has ink
            ink = drv.execute_script(
                "const c=document.getElementById('seen').getContext('2d').getImageData(0,0,160,160).data;"
                "let s=0; for (let i=0;i<c.length;i+=4) s+=c[i]; return s;"
            )
            assert ink > 0
            shot = os.environ.get("CNNZOO_SERVE_SCREENSHOT")
            if shot:
                drv.find_element(By.CSS_SELECTOR, "input[value=gradcam]").click()
                time.sleep(1.5)
                drv.save_screenshot(shot)
        finally:
            drv.quit()


def test_cli_default_model_and_exposure_warning(
    lenet_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without CHECKPOINT the LeNet-5 shipped in the package is served (even where a runs/ folder has
    another); a checkpoint given wins; a non-local --host warns."""
    from cnnzoo.serve.weights import SHIPPED_LENET5

    served: list[tuple[web.ServeState, str]] = []
    monkeypatch.setattr(web, "run_server", lambda state, host, port: served.append((state, host)))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "lenet5-digits").mkdir(parents=True)
    shutil.copy(lenet_ckpt, tmp_path / "runs" / "lenet5-digits" / "best.pt")
    assert main(["serve", "--port", str(free_port())]) == 0
    draw = served[-1][0].draw
    assert draw.card["file"] == str(SHIPPED_LENET5) and draw.card["shipped"]
    assert "Draw model lenet5 from the shipped LeNet-5 (MNIST)" in capsys.readouterr().out
    assert main(["serve", str(lenet_ckpt), "--port", str(free_port())]) == 0
    assert served[-1][0].draw.source == str(lenet_ckpt)
    out = capsys.readouterr()
    assert f"Draw model lenet5 from {lenet_ckpt}" in out.out and "warning" not in out.err
    assert main(["serve", "--host", "0.0.0.0", "--port", str(free_port())]) == 0
    assert served[-1][1] == "0.0.0.0" and "warning: bound to 0.0.0.0" in capsys.readouterr().err
