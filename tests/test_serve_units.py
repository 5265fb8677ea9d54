"""``cnnzoo serve --units DIR``: the Anatomy page's top-9 patches, through the JSON API (the framework's test
client) and one click in headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason='cnnzoo serve needs fastapi (pip install -e ".[serve]")')
from fastapi.testclient import TestClient  # noqa: E402

from cnnzoo.errors import CnnzooError  # noqa: E402
from cnnzoo.explain.unit_report import units_files  # noqa: E402
from cnnzoo.serve import app as web  # noqa: E402
from cnnzoo.serve.units import load_units_index, tile_path  # noqa: E402


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("units") / "lenet"
    units_files(
        "lenet5_modern",
        out,
        data="digits",
        layers=["c1", "c3"],
        top=4,
        units=[0, 2],
        limit=40,
        progress=False,
        projection="deconvnet",
    )
    return out


@pytest.fixture(scope="module")
def client(index_dir: Path) -> TestClient:
    return TestClient(web.create_app(web.ServeState(units=[load_units_index(index_dir)])))


def test_units_api_lists_the_index_and_its_units(client: TestClient, index_dir: Path) -> None:
    r = client.get("/api/units")
    assert r.status_code == 200
    (ix,) = r.json()["indexes"]
    assert ix["model"] == "lenet5_modern" and ix["images"] == 40 and ix["top"] == 4
    assert [(L["name"], L["units"], L["drawn"], L["rf"]) for L in ix["layers"]] == [
        ("c1", 6, [0, 2], [5, 5]),
        ("c3", 16, [0, 2], [14, 14]),
    ]
    u = client.get("/api/units/unit", params={"layer": "c3", "unit": 2}).json()
    on_disk = json.loads((index_dir / "index.json").read_text())["layers"][1]["units"][2]
    assert u["top"] == on_disk["top"] and len(u["top"]) == 4 and u["drawn"] is True
    assert u["projection"] == "deconvnet"
    tile = client.get(u["tile"])
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    assert tile.content == (index_dir / on_disk["tile"]).read_bytes()
    assert client.get(u["projection_tile"]).status_code == 200
    plain = client.get("/api/units/unit", params={"layer": "c3", "unit": 5}).json()
    assert plain["drawn"] is False and plain["tile"] is None and len(plain["top"]) == 4


def test_units_api_errors_are_sentences(client: TestClient) -> None:
    for params, status, words in [
        ({"layer": "c9", "unit": 0}, 404, "has no layer 'c9'"),
        ({"layer": "c3", "unit": 16}, 404, "has 16 units"),
        ({"layer": "c3", "unit": 0, "index": 3}, 404, "no units index 3"),
        ({"layer": "c3", "unit": "x"}, 400, "unit"),
    ]:
        r = client.get("/api/units/unit", params=params)
        assert r.status_code == status and words in r.json()["error"], r.json()
    r = client.get("/api/units/tile", params={"layer": "c3", "unit": 5})
    assert r.status_code == 404 and "--units 5" in r.json()["error"]
    r = client.get("/api/units/tile", params={"layer": "c3", "unit": 0, "kind": "../../etc"})
    assert r.status_code == 400
    empty = TestClient(web.create_app(web.ServeState()))
    assert empty.get("/api/units").json() == {"indexes": []}
    assert (
        "cnnzoo serve --units"
        in empty.get("/api/units/unit", params={"layer": "c1", "unit": 0}).json()["error"]
    )


def test_only_pictures_inside_the_index_folder_are_sent(index_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(index_dir, copy)
    d = json.loads((copy / "index.json").read_text())
    d["layers"][0]["units"][0]["tile"] = "../../../../etc/hostname"
    (copy / "index.json").write_text(json.dumps(d))
    idx = load_units_index(copy)
    with pytest.raises(CnnzooError, match="missing from"):
        tile_path([idx], 0, "c1", 0)
    assert tile_path([idx], 0, "c1", 2).is_file()


def test_serve_refuses_a_folder_without_an_index(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from cnnzoo.cli import main

    assert main(["serve", "--units", str(tmp_path), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "holds no index.json" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "index.json").write_text('{"format": "something else"}')
    assert main(["serve", "--units", str(tmp_path)]) == 2
    assert "is not a cnnzoo units index" in capsys.readouterr().err


@pytest.mark.slow
def test_browser_anatomy_click_shows_a_units_top_patches(index_dir: Path, tmp_path: Path) -> None:
    """Headless Chromium: the Anatomy page gets the units panel; after switching the table to the indexed
    model, a click on a layer's row opens that layer, a click on a unit shows its picture and its 4 images."""
    from test_serve import ServerThread, chromium_paths, make_browser

    chromium_paths()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    state = web.ServeState(units=[load_units_index(index_dir)])
    with ServerThread(state) as url:
        drv = make_browser(tmp_path)
        try:
            drv.get(url + "/anatomy")
            WebDriverWait(drv, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#units-grid button"))
            show = drv.find_element(By.XPATH, "//div[@id='units-which']/button")
            assert "lenet5_modern" in show.text
            show.click()
            WebDriverWait(drv, 30).until(
                lambda d: len(d.find_elements(By.CSS_SELECTOR, "#anatomy-table .badge.units")) == 2
            )
            badge_rows = drv.find_elements(
                By.XPATH, "//table[@id='anatomy-table']//tr[.//span[contains(@class,'units')]]"
            )
            names = [r.find_element(By.TAG_NAME, "td").text.replace("top-9", "").strip() for r in badge_rows]
            assert [n.split(".")[0] for n in names] == ["c1", "c3"]
            badge_rows[1].click()
            WebDriverWait(drv, 20).until(
                lambda d: len(d.find_elements(By.CSS_SELECTOR, "#units-grid button")) == 16
            )
            assert drv.find_element(By.CSS_SELECTOR, "#units-layers button.selected").text.startswith("c3 ")
            drv.find_element(By.CSS_SELECTOR, "#units-grid button[data-unit='2']").click()
            WebDriverWait(drv, 20).until(
                lambda d: d.execute_script(
                    "const i=[...document.querySelectorAll('#units-view img')]"
                    ".find(x=>x.src.includes('kind=patches'));"
                    "return i && i.src.includes('unit=2') && i.complete && i.naturalWidth > 0"
                )
            )
            items = drv.find_elements(By.CSS_SELECTOR, "#units-view li")
            assert len(items) == 4 and all("image " in li.text for li in items)
            assert (
                "c3, unit 2: receptive field 14x14"
                in drv.find_element(By.CSS_SELECTOR, "#units-view h3").text
            )
        finally:
            drv.quit()
