"""``ctk serve``'s page end to end in headless Chromium (Debian's chromium + chromedriver, driven by Selenium;
nothing is downloaded): search with a typo, open a track and play its matching fragment, select tracks on
the map by clicking and with the lasso, make a hull walk and save it as M3U8. The screenshot of the map with
the playlist is kept as ``tests/artifacts/serve-map.png`` (git-ignored) and in the test's tmp folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_exe = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    assert exe, "chromium is not installed: apt-get install -y chromium chromium-driver (see `make chromium`)"
    assert Path(driver_exe).is_file(), "chromedriver is not installed: apt-get install -y chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = exe  # with both paths given, Selenium Manager never runs (nothing is downloaded)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                 "--window-size=1400,1100", "--autoplay-policy=no-user-gesture-required",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_exe))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait(driver, condition, timeout: float = 20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def test_search_track_map_selection_and_saved_playlist(browser, server, served_library, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    music, _, _ = served_library
    d = browser
    d.get(server.url + "/")
    box = d.find_element(By.ID, "q")
    box.send_keys("glas harbour paper boats\n")  # a typo
    wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#results li"))
    first = d.find_element(By.CSS_SELECTOR, "#results li a")
    assert first.text == "Glass Harbour - Paper Boats"
    assert "tracks match" in d.find_element(By.ID, "results-info").text

    # the track page: tags, similar tracks, play the matching fragment (loaded through range requests)
    first.click()
    wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#similar li.similar"))
    assert d.find_element(By.ID, "t-title").text == "Glass Harbour - Paper Boats"
    assert "Neon Signal" in d.find_element(By.ID, "t-tags").text
    similar = d.find_elements(By.CSS_SELECTOR, "#similar li.similar")
    assert len(similar) >= 5 and "sounds like" in similar[0].text
    similar[0].find_element(By.CSS_SELECTOR, "button.playfrom").click()
    wait(d, lambda d: d.execute_script("return document.getElementById('player').readyState") >= 1)
    player_src = d.execute_script("return document.getElementById('player').currentSrc")
    assert player_src.startswith(server.url + "/audio/") and player_src.endswith(".flac")
    assert d.find_element(By.ID, "t-playing").text.startswith("playing ")

    # the map: every track drawn; select two tracks by clicking and a third with the lasso
    d.find_element(By.ID, "nav-map").click()
    canvas = d.find_element(By.ID, "map")
    wait(d, lambda d: canvas.get_attribute("data-points") == "14")
    ids = d.execute_script("return window.ctkMap.data.ids")
    hover = d.execute_script("return window.ctkMap.data.hover")
    glass = [i for i, h in zip(ids, hover) if h.startswith("Glass Harbour")]
    size = canvas.size

    def offset(track):
        pos = d.execute_script("return window.ctkMap.screenOf(arguments[0])", track)
        return pos["x"] - size["width"] / 2, pos["y"] - size["height"] / 2

    for track in glass[:2]:
        ActionChains(d).move_to_element_with_offset(canvas, *offset(track)).click().perform()
    assert d.execute_script("return window.ctkMap.selected") == glass[:2]
    d.find_element(By.ID, "mode-lasso").click()
    x, y = offset(glass[2])
    chain = ActionChains(d).move_to_element_with_offset(canvas, x - 3, y - 3).click_and_hold()
    for dx, dy in ((3, -3), (3, 3), (-3, 3), (-3, -3)):  # a small square around the third track
        chain = chain.move_to_element_with_offset(canvas, x + dx, y + dy)
    chain.release().perform()
    selected = d.execute_script("return window.ctkMap.selected")
    assert selected[:2] == glass[:2] and glass[2] in selected
    assert canvas.get_attribute("data-selected") == str(len(selected))

    # a hull walk from the selection, saved as M3U8
    length = d.find_element(By.ID, "plen")
    length.clear()
    length.send_keys("6")
    d.find_element(By.ID, "hull").click()
    wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#pltracks li")) == 6)
    name = d.find_element(By.ID, "plname")
    name.clear()
    name.send_keys("Browser walk")
    d.find_element(By.ID, "save").click()
    wait(d, lambda d: d.find_element(By.ID, "saved").get_attribute("data-file"))
    saved = Path(d.find_element(By.ID, "saved").get_attribute("data-file"))
    assert saved == music.parent / "playlists" / "Browser walk.m3u8"
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["#EXTM3U", "#PLAYLIST:Browser walk"] and len(lines) == 2 + 2 * 6
    assert lines[2].startswith("#EXTINF:10,Glass Harbour - ") and lines[3].startswith("../music/Glass Harbour/")

    shot = tmp_path / "serve-map.png"
    assert d.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "serve-map.png")
