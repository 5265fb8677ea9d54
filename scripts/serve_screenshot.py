"""Screenshots of ``cnnzoo serve`` for the README, taken in headless Chromium (Debian's chromium and
chromium-driver, driven by selenium).

    python scripts/serve_screenshot.py runs/lenet5-digits/best.pt [--out-dir docs/img]

Starts the server on a free 127.0.0.1 port, draws a 7 on the Draw page with pointer events, turns on the
Grad-CAM overlay and writes ``serve_draw.png``; then opens the Anatomy page of LeNet-5 and writes
``serve_anatomy.png``.
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
    ap.add_argument("checkpoint")
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
        "--window-size=1300,1450",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        url = f"http://127.0.0.1:{port}"
        drv.get(url + "/")
        WebDriverWait(drv, 20).until(lambda d: d.execute_script("return INFO !== null"))
        drv.find_element(By.CSS_SELECTOR, "input[value=gradcam]").click()
        pad = drv.find_element(By.ID, "pad")
        chain = ActionChains(drv).move_to_element_with_offset(pad, -70, -85).click_and_hold()
        for _ in range(14):  # the top bar of a 7
            chain = chain.move_by_offset(10, 0)
        for _ in range(17):  # its stem
            chain = chain.move_by_offset(-5, 10)
        chain.release().perform()
        WebDriverWait(drv, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#top5 .bar")) == 5)
        time.sleep(2.0)
        drv.save_screenshot(str(out / "serve_draw.png"))
        drv.get(url + "/anatomy")
        WebDriverWait(drv, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#compare-chart svg"))
        time.sleep(1.0)
        drv.save_screenshot(str(out / "serve_anatomy.png"))
    finally:
        drv.quit()
        server.should_exit = True
        thread.join(10)
    print(f"wrote {out / 'serve_draw.png'} and {out / 'serve_anatomy.png'}")


if __name__ == "__main__":
    main()
