"""Screenshots of ``cnnzoo serve`` for the README, taken in headless Chromium (Debian's chromium and
chromium-driver, driven by selenium).

    python scripts/serve_screenshot.py [CHECKPOINT] [--out-dir docs/img]     # default: the shipped LeNet-5

Starts the server on a free 127.0.0.1 port, draws a 7 on the Draw page with pointer events, hovers a C3 unit
and writes ``serve_draw.png`` (layers, the unit inspector, Table I) and ``serve_inspector.png`` (the
inspector panel); clicks a C3 unit in the 3D view and writes ``serve_3d.png``; the Worked examples page at
step 3 of the max-pool backward pass, ``serve_widgets.png``; the Anatomy page of LeNet-5,
``serve_anatomy.png``. Chromium draws the 3D view with its software WebGL (SwiftShader).
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", default=None)
    ap.add_argument("--out-dir", default="docs/img")
    args = ap.parse_args()

    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from cnnzoo.serve import app as web
    from cnnzoo.serve import core

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = web.ServeState(draw=core.load_draw_model(args.checkpoint))
    server = uvicorn.Server(
        uvicorn.Config(web.create_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="cnnzoo-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=1500,1500",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        url = f"http://127.0.0.1:{port}"
        drv.get(url + "/")
        WebDriverWait(drv, 20).until(lambda d: d.execute_script("return INFO !== null"))
        WebDriverWait(drv, 20).until(lambda d: d.execute_script("return INSPECT.params !== null"))
        pad = drv.find_element(By.ID, "pad")
        chain = ActionChains(drv).move_to_element_with_offset(pad, -70, -85).click_and_hold()
        for _ in range(14):  # the top bar of a 7
            chain = chain.move_by_offset(10, 0)
        for _ in range(17):  # its stem
            chain = chain.move_by_offset(-5, 10)
        chain.release().perform()
        WebDriverWait(drv, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#top5 .bar")) == 5)
        WebDriverWait(drv, 30).until(lambda d: d.execute_script("return sent >= 1 && !inFlight && !pending"))
        time.sleep(1.0)
        c3 = drv.find_element(By.CSS_SELECTOR, 'canvas.map[data-layer="c3"][data-map="9"]')
        ActionChains(drv).move_to_element_with_offset(c3, 3, -2).click().perform()
        time.sleep(0.5)
        drv.execute_script("window.scrollTo(0, 0)")
        drv.save_screenshot(str(out / "serve_draw.png"))
        drv.find_element(By.ID, "inspector").screenshot(str(out / "serve_inspector.png"))
        view = drv.find_element(By.ID, "panel-3d")
        drv.execute_script("arguments[0].scrollIntoView()", view)
        time.sleep(0.5)
        canvas = drv.find_element(By.ID, "view3d")
        pt = drv.execute_script("return VIEW3D.unitScreen({layer: 'c3', map: 9, y: 4, x: 5})")
        r = drv.execute_script("return arguments[0].getBoundingClientRect().toJSON()", canvas)
        dx, dy = pt["x"] - (r["left"] + r["width"] / 2), pt["y"] - (r["top"] + r["height"] / 2)
        ActionChains(drv).move_to_element_with_offset(canvas, round(dx), round(dy)).click().perform()
        time.sleep(1.0)
        view.screenshot(str(out / "serve_3d.png"))
        drv.get(url + "/widgets")
        WebDriverWait(drv, 20).until(lambda d: d.find_elements(By.ID, "pool-next"))
        for _ in range(3):
            drv.find_element(By.ID, "pool-next").click()
        time.sleep(0.5)
        drv.find_element(By.CSS_SELECTOR, "#page-widgets .panel").screenshot(str(out / "serve_widgets.png"))
        drv.get(url + "/anatomy")
        WebDriverWait(drv, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#compare-chart svg"))
        time.sleep(1.0)
        drv.save_screenshot(str(out / "serve_anatomy.png"))
    finally:
        drv.quit()
        server.should_exit = True
        thread.join(10)
    names = ("serve_draw", "serve_inspector", "serve_3d", "serve_widgets", "serve_anatomy")
    print("wrote " + ", ".join(str(out / f"{n}.png") for n in names))


if __name__ == "__main__":
    main()
