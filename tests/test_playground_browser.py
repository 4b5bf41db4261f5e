"""The playground page in a real headless Chromium (Debian's chromium and
chromium-driver, which .ci/run installs), against a server on a free
loopback port: what a person does with it, checked in the page."""
import shutil
import struct
import time

import numpy as np
import pytest

pytest.importorskip("aiohttp", reason="the playground needs aiohttp (initreg[playground])")
webdriver = pytest.importorskip("selenium.webdriver",
                                reason="the browser tests drive Chromium through selenium")

import initreg as ir  # noqa: E402
from initreg.playground import running  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="no chromium/chromedriver on PATH (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def server():
    with running() as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(driver.downloads)})
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, server):
    browser.get(server)
    wait_for(browser, "return playground.frames > 0")
    yield browser
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # no script error, no failed load, on any page


def wait_for(driver, script, timeout=20):
    """Poll a JavaScript expression until it is truthy; its value."""
    from selenium.common.exceptions import JavascriptException
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = driver.execute_script(script)
        except JavascriptException:  # the page's script is not there yet
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s: {script}; the page at "
                         f"{driver.current_url} shows {driver.page_source[:300]!r}")


def wait_file(path, timeout=20):
    """Wait for a download: the browser writes a .crdownload file and renames
    it into place when it is complete."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not path.exists():
        time.sleep(0.05)
    assert path.exists(), f"{path.name} was not downloaded"


def set_field(driver, field, value):
    """Type a value into a setting as a person would, and leave the field."""
    el = driver.find_element("css selector", f'[data-field="{field}"]')
    driver.execute_script("arguments[0].value = arguments[1];"
                          "arguments[0].dispatchEvent(new Event('change'));", el, str(value))


def frame(driver):
    return driver.execute_script("return playground.lastFrame")


def test_play_trains_the_boundary_and_curves_move(page):
    boundary = 'return document.querySelector("#boundaries canvas").toDataURL()'
    start = page.execute_script(boundary)
    first_loss = frame(page)["models"][0]["train_loss"]
    page.find_element("id", "play").click()
    wait_for(page, "return playground.lastFrame.step > 300")
    assert page.find_element("id", "play").text.endswith("Pause")
    shown = float(page.execute_script(
        'return document.querySelector("#values-table td:nth-child(2)").textContent'))
    assert shown < 0.9 * first_loss  # the loss fell, as the page says in words
    assert page.execute_script(boundary) != start
    rect = page.execute_script(
        'const r = document.querySelector("#boundaries canvas").getBoundingClientRect();'
        "return [r.bottom, r.right, innerHeight, innerWidth]")
    assert rect[0] <= rect[2] and rect[1] <= rect[3]  # seen whole without scrolling
    assert int(page.find_element("id", "rate").text.replace(",", "")) > 0


def test_raising_l1_while_training_zeroes_weights(page):
    page.find_element("css selector", '#speed option[value="0"]').click()
    page.find_element("id", "play").click()
    wait_for(page, "return playground.lastFrame.step > 200")
    assert frame(page)["models"][0]["zeros"] == 0
    set_field(page, "training.l1", 0.02)
    zeros = wait_for(page, 'return +document.getElementById("zeros").dataset.zeros > 10 && '
                           '+document.getElementById("zeros").dataset.zeros')
    assert zeros > 10
    text = page.find_element("id", "histograms").text
    assert "zero" in text


def test_compare_three_initializers(page):
    page.execute_script('document.getElementById("vary").value = "init";'
                        'document.getElementById("values").value = "zeros, xavier, he";')
    page.find_element("id", "compare").click()
    wait_for(page, "return playground.lastFrame.models.length === 3")
    page.find_element("css selector", '#speed option[value="0"]').click()
    page.find_element("id", "play").click()
    wait_for(page, "return playground.lastFrame.epoch > 5")
    captions = [e.text for e in page.find_elements("css selector", "#boundaries figcaption")]
    assert captions == ["init = zeros", "init = xavier", "init = he"]
    assert len(page.find_elements("css selector", "#values-table tr")) == 4
    f = frame(page)
    accuracy = [m["train_accuracy"] for m in f["models"]]
    assert accuracy[0] <= 0.75 < max(accuracy[1:])  # zero init stays symmetric
    page.find_elements("css selector", "#boundaries canvas")[2].click()
    wait_for(page, "return playground.lastFrame.focus === 2")


def test_download_the_model_and_load_it(page):
    page.find_element("id", "step").click()
    wait_for(page, "return playground.lastFrame.step === 1")
    target = page.downloads / "initreg-playground.npz"
    target.unlink(missing_ok=True)
    page.find_element("id", "dl-model").click()
    wait_file(target)
    net, opt = ir.load_checkpoint(target)
    assert list(net.layer_sizes) == [2, 8, 8, 2] and opt.steps == 1
    assert np.isfinite(net.parameters).all()
    assert np.array_equal(ir.MLP.load(target).parameters, net.parameters)
    png = page.downloads / "initreg-playground.png"
    png.unlink(missing_ok=True)
    page.find_element("id", "dl-png").click()
    wait_file(png)
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width == 900 and height > 400  # the views, composed into one picture
    page.find_element("id", "dl-recipe").click()
    recipe = wait_for(page, 'return !document.getElementById("recipe-box").hidden && '
                            'document.getElementById("recipe").textContent')
    assert "initreg train --dataset spirals" in recipe and "ir.MLP(" in recipe


def test_a_malformed_message_shows_an_error_and_the_server_survives(page):
    page.execute_script('playground.socket.send("{not json");')
    wait_for(page, 'return !document.getElementById("error").hidden')
    set_field(page, "training.lr", "-1")
    wait_for(page, 'return document.querySelector(\'[data-field="training.lr"]\')'
                   '.classList.contains("invalid")')
    assert "training.lr" in page.find_element("id", "error").text
    assert page.execute_script("return playground.config.training.lr") == 0.03
    page.execute_script('playground.socket.send(JSON.stringify({type: "config", config: '
                        '{network: {hidden: Array(500).fill(64)}}}));')
    wait_for(page, 'return playground.errors.some(e => e.field === "network.hidden")')
    # a field name no input has (quotes and brackets too) is shown, not looked up
    page.execute_script('playground.socket.send(JSON.stringify({type: "config", config: '
                        '{data: {\'x"] [y\': 1}}}));')
    wait_for(page, "return playground.errors.some(e => e.field.startsWith('data.x'))")
    set_field(page, "training.lr", "0.1")  # and the session goes on
    wait_for(page, "return playground.config.training.lr === 0.1")
    page.find_element("id", "step").click()
    wait_for(page, "return playground.lastFrame.step === 1")
