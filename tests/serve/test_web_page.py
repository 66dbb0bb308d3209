"""The web page at ``/`` in a real browser: Debian's headless chromium driven by Playwright
against a real uvicorn server (on a free port of 127.0.0.1) serving the tiny models. A person's
steps: type a review and read its label and bars and each word's shaded contribution, generate
text (streamed, or several samples of a prime at once) and compare it with the API's, see a
language model's units over a text (a unit picked by keyboard), translate and read the
attention heat map, forecast, paste sequences to regress, upload an image to caption, send bad
requests and read their errors, give an API key, use the keyboard, and a phone-width screen.
Screenshots are saved beside the test's temporary files.

Needs ``chromium`` (``make browser``) and ``playwright`` (the dev extra); without them the tests
skip, or fail when $RNNKIT_REQUIRE_BROWSER is 1 (``make test`` sets it).
"""

import os
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn

from rnnkit.serve import ServedModel, ServeSettings, create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
KEY = "page-key"
WAIT_MS = 15_000  # the longest a step may take on a busy machine


def browser_or_skip() -> None:
    """Skip unless chromium and Playwright are here; with $RNNKIT_REQUIRE_BROWSER=1, fail."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        missing.append(f"Debian's chromium at {CHROMIUM} (make browser)")
    if not missing:
        return
    message = "the browser tests need " + " and ".join(missing)
    if os.environ.get("RNNKIT_REQUIRE_BROWSER") == "1":
        pytest.fail(message + "; $RNNKIT_REQUIRE_BROWSER=1 asks for them", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """A uvicorn server of ``app`` on a free port of 127.0.0.1, in a thread of this process."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start in 20 s"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(models, limits):
    served = {name: models[name] for name in ("classify", "lm", "translate", "forecast")}
    with ServerThread(create_app(served, limits)) as server:
        yield server


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where the screenshots go (pytest keeps the last few runs' temporary folders)."""
    return tmp_path_factory.mktemp("web-page-screenshots")


@pytest.fixture
def page(browser, server):
    """A fresh page at ``/``, its panels loaded; fails the test on any script error."""
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    page.set_default_timeout(WAIT_MS)
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.goto(server.url + "/")
    page.get_by_role("status").filter(has_text="4 models served").wait_for()
    yield page
    page.close()
    assert not script_errors, script_errors


def panel(page, name):
    return page.get_by_role("region", name=name, exact=True)


def test_the_page_is_served_with_its_files_and_loads_nothing_from_elsewhere(server):
    html = httpx.get(server.url + "/")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in html.headers["content-security-policy"]
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        response = httpx.get(f"{server.url}/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
    assert httpx.get(server.url + "/static/../app.py").status_code == 404
    for text in (html.text, httpx.get(server.url + "/static/app.js").text):
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text and "//cdn" not in text


def test_each_model_has_a_panel_named_after_it(page):
    for name in ("classify", "lm", "translate", "forecast"):
        assert panel(page, name).get_attribute("data-task") == name


def test_typing_a_review_shows_its_label_and_probability_bars(page, server, shots):
    reviews = panel(page, "classify")
    reviews.get_by_label("Text to classify").fill("good film 3")
    reviews.get_by_role("button", name="Classify").click()
    label = reviews.locator(".predicted-label").inner_text()
    expected = httpx.post(f"{server.url}/v1/models/classify/predict",
                          json={"texts": ["good film 3"]}).json()["predictions"][0]  # fmt: skip
    assert label == expected["label"]
    bars = reviews.get_by_role("list", name="probability of each label").get_by_role("listitem")
    assert bars.count() == 2
    shown = {bars.nth(i).locator(".name").inner_text(): bars.nth(i).locator(".value").inner_text()
             for i in range(2)}  # fmt: skip
    assert shown == {name: f"{100 * p:.1f}%" for name, p in expected["probabilities"].items()}
    page.screenshot(path=shots / "classify.png", full_page=True)


def test_each_word_of_a_review_is_shaded_by_its_contribution(page, server, shots):
    reviews = panel(page, "classify")
    reviews.get_by_label("Text to classify").fill("bad, bad film 7")
    reviews.get_by_role("button", name="Classify").click()
    words = reviews.get_by_label("each word's contribution", exact=True).locator(".token")
    words.first.wait_for()
    expected = httpx.post(f"{server.url}/v1/models/classify/explain",
                          json={"texts": ["bad, bad film 7"]}).json()["predictions"][0]  # fmt: skip
    assert reviews.locator(".predicted-label").inner_text() == expected["label"]
    assert words.all_inner_texts() == expected["tokens"]
    largest = max(abs(c) for c in expected["contributions"])
    for i, c in enumerate(expected["contributions"]):
        word = words.nth(i)
        assert float(word.get_attribute("data-contribution")) == pytest.approx(c)
        sign = "+" if c >= 0 else "−"
        assert word.get_attribute("title") == (
            f"{expected['tokens'][i]}: {sign}{abs(c):.3f} to p({expected['label']})"
        )
        if abs(c) == largest and c != 0:  # the strongest word has the strongest shade
            assert word.evaluate("w => getComputedStyle(w).backgroundColor").endswith("0.85)")
    reviews.get_by_text("The contributions as a table").click()  # the numbers, for everyone
    cells = reviews.locator("table.contribution-table tbody tr")
    assert cells.count() == len(expected["tokens"])
    assert cells.nth(0).locator("td").all_inner_texts()[0] == expected["tokens"][0]
    page.screenshot(path=shots / "classify-explain.png", full_page=True)
    reviews.get_by_label("Contribution by").select_option(label="gradient × input")
    reviews.get_by_role("button", name="Classify").click()
    reviews.get_by_text("times the embedding").wait_for()  # the legend says what it shows
    by_gradient = httpx.post(f"{server.url}/v1/models/classify/explain", json={
        "texts": ["bad, bad film 7"], "method": "gradient"}).json()["predictions"][0]  # fmt: skip
    shown = words.evaluate_all("ws => ws.map(w => Number(w.dataset.contribution))")
    assert shown == pytest.approx(by_gradient["contributions"])
    reviews.get_by_label("Show each word's contribution").uncheck()  # the plain predict
    with page.expect_response(lambda r: r.url.endswith("/classify/predict")):
        reviews.get_by_role("button", name="Classify").click()
    reviews.locator(".predicted-label").wait_for()
    assert reviews.get_by_label("each word's contribution", exact=True).count() == 0


def test_a_translation_shows_its_attention_as_a_heat_map(page, server, shots):
    translate = panel(page, "translate")
    translate.get_by_label("Sentences").fill("ein hund 3\nein hund 5")
    translate.get_by_label("Beam width").fill("2")
    translate.get_by_role("button", name="Translate").click()
    maps = translate.locator("table.heatmap")
    maps.nth(1).wait_for()
    assert maps.count() == 2 and translate.locator(".translation").count() == 2
    expected = httpx.post(f"{server.url}/v1/models/translate/attention",
                          json={"sentence": "ein hund 3", "beam": 2}).json()  # fmt: skip
    heat = maps.first
    assert translate.locator(".translation").first.inner_text() == expected["output"]
    columns = heat.locator("thead th").all_inner_texts()
    assert columns == [p.replace("▁", "") for p in expected["source"]]
    rows = heat.locator("tbody tr")
    assert rows.count() == len(expected["target"])
    for i, weights in enumerate(expected["weights"][:3]):
        row = rows.nth(i)
        assert row.locator("th").inner_text() == expected["target"][i].replace("▁", "")
        assert row.locator("td").all_inner_texts() == [f"{w:.2f}" for w in weights]
    page.screenshot(path=shots / "translate-attention.png", full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})  # a wide map scrolls within itself
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_a_language_models_units_colour_a_text_and_a_picker_switches_them(page, server, shots):
    lm = panel(page, "lm")
    lm.get_by_label("Text to read").fill("the cat sat")
    lm.get_by_label("Units").fill("3, 0")
    lm.get_by_role("button", name="Show activations").click()
    tokens = lm.locator("pre.activations .token")
    tokens.first.wait_for()
    expected = httpx.post(f"{server.url}/v1/models/lm/activations",
                          json={"text": "the cat sat", "units": [3, 0]}).json()  # fmt: skip
    assert tokens.all_inner_texts() == expected["tokens"]
    shown = [float(v) for v in tokens.evaluate_all("ts => ts.map(t => t.dataset.value)")]
    assert shown == pytest.approx([row[0] for row in expected["activations"]])
    assert "unit 3 = " in tokens.first.get_attribute("title")
    assert lm.locator("pre.activations").get_attribute("aria-label").endswith("unit 3")
    picker = lm.get_by_label("Unit", exact=True)
    assert picker.locator("option").all_inner_texts() == ["unit 3", "unit 0"]
    picker.focus()
    page.keyboard.press("ArrowDown")  # the keyboard picks the next unit
    shown = [float(v) for v in tokens.evaluate_all("ts => ts.map(t => t.dataset.value)")]
    assert shown == pytest.approx([row[1] for row in expected["activations"]])
    assert "unit 0 = " in tokens.first.get_attribute("title")
    page.screenshot(path=shots / "lm-activations.png", full_page=True)
    lm.get_by_label("Units").fill("3, x")  # caught before any request
    lm.get_by_role("button", name="Show activations").click()
    alert = lm.get_by_role("alert")
    assert alert.inner_text() == 'Error: "x" is not a unit number; expected numbers from 0'
    lm.get_by_label("Units").fill("99")
    lm.get_by_role("button", name="Show activations").click()
    lm.get_by_role("alert").filter(has_text="Error 400").wait_for()
    assert "hidden size 4" in lm.get_by_role("alert").inner_text()


def test_ctrl_enter_in_the_text_box_classifies(page):
    box = panel(page, "classify").get_by_label("Text to classify")
    box.focus()
    page.keyboard.type("bad film 7")
    page.keyboard.press("Control+Enter")
    assert panel(page, "classify").locator(".predicted-label").inner_text() in ("good", "bad")


def test_generated_text_streams_in_and_matches_the_api(page, server):
    lm = panel(page, "lm")
    lm.get_by_label("Prime").fill("the ")
    lm.get_by_label("Length").fill("40")
    lm.get_by_label("Seed").fill("3")
    with page.expect_response(lambda r: "/generate?stream=true" in r.url) as streamed:
        lm.get_by_role("button", name="Generate").click()
    assert streamed.value.headers["content-type"].startswith("text/event-stream")
    lm.locator(".meta").filter(has_text="40 tokens").wait_for()
    output = lm.locator("pre.generated .output").text_content()
    body = {"prime": "the ", "length": 40, "seed": 3, "temperature": 0.8}
    expected = httpx.post(f"{server.url}/v1/models/lm/generate", json=body).json()
    assert output == expected["output"] and len(output) == 40
    assert lm.locator("pre.generated .prime").text_content() == "the "
    lm.get_by_label("Show the text as it comes").uncheck()  # one JSON answer instead
    with page.expect_response(lambda r: r.url.endswith("/generate")) as plain:
        lm.get_by_role("button", name="Generate").click()
    assert plain.value.headers["content-type"].startswith("application/json")
    lm.locator(".meta").filter(has_text="40 tokens").wait_for()
    assert lm.locator("pre.generated .output").text_content() == expected["output"]


def test_several_samples_of_one_prime_are_shown_one_under_another(page, server, shots):
    lm = panel(page, "lm")
    lm.get_by_label("Prime").fill("the ")
    lm.get_by_label("Length").fill("30")
    lm.get_by_label("Seed").fill("7")
    lm.get_by_label("Samples").fill("3")
    with page.expect_response(lambda r: r.url.endswith("/generate")) as answered:
        lm.get_by_role("button", name="Generate").click()  # not streamed: one JSON answer
    assert answered.value.headers["content-type"].startswith("application/json")
    lm.locator(".meta").filter(has_text="3 samples of 30 tokens").wait_for()
    body = {"prime": "the ", "length": 30, "seed": 7, "temperature": 0.8, "samples": 3}
    expected = httpx.post(f"{server.url}/v1/models/lm/generate", json=body).json()
    texts = lm.locator("pre.generated")
    assert texts.count() == 3
    assert [texts.nth(i).locator(".output").text_content() for i in range(3)] == (
        expected["outputs"]
    )
    assert all(texts.nth(i).locator(".prime").text_content() == "the " for i in range(3))
    assert "seeds 7 to 9" in lm.locator(".meta").inner_text()
    page.screenshot(path=shots / "samples.png", full_page=True)
    lm.get_by_label("Samples").fill("0")  # the server's limit, shown as its message
    lm.get_by_role("button", name="Generate").click()
    assert lm.get_by_role("alert").inner_text().startswith("Error 422: body.samples:")


def test_translate_and_forecast_show_their_answers(page):
    translate = panel(page, "translate")
    translate.get_by_label("Sentences").fill("ein hund 3\nein hund 5")
    translate.get_by_role("button", name="Translate").click()
    translations = translate.locator(".translation")
    translations.nth(1).wait_for()
    assert translations.count() == 2
    forecast = panel(page, "forecast")
    values = ", ".join(f"{10 + (i % 12) / 12:.3f}" for i in range(30))
    forecast.get_by_label("Values").fill(values)
    forecast.get_by_role("button", name="Forecast").click()
    forecast.locator("tbody tr").nth(2).wait_for()
    assert forecast.locator("tbody tr").count() == 3  # the tiny model's horizon
    assert forecast.get_by_role("img", name="the series and its forecast").is_visible()


def test_bad_requests_show_the_servers_message(page, shots, limits):
    lm = panel(page, "lm")
    lm.get_by_label("Prime").fill("ZQX")  # characters the model never saw: 400
    lm.get_by_role("button", name="Generate").click()
    alert = lm.get_by_role("alert")
    assert alert.inner_text().startswith("Error 400: the prime text has characters")
    assert lm.locator("pre.generated").count() == 0  # no empty answer beside the error
    reviews = panel(page, "classify")
    reviews.get_by_label("Text to classify").fill("x" * (limits.max_text_length + 1))
    reviews.get_by_role("button", name="Classify").click()
    message = reviews.get_by_role("alert").inner_text()
    assert message.startswith("Error 422: body.texts.0:"), message
    assert f"at most {limits.max_text_length} characters" in message
    forecast = panel(page, "forecast")
    forecast.get_by_label("Values").fill("1, 2, three")  # caught before any request
    forecast.get_by_role("button", name="Forecast").click()
    assert forecast.get_by_role("alert").inner_text() == (
        'Error: "three" is not a number; expected numbers'
    )
    forecast.get_by_label("Values").fill("1, 2, 3")
    forecast.get_by_role("button", name="Forecast").click()
    forecast.get_by_role("alert").filter(has_text="Error 400").wait_for()
    assert "too few" in forecast.get_by_role("alert").inner_text()
    page.screenshot(path=shots / "errors.png", full_page=True)


def test_a_phone_width_screen_needs_no_sideways_scrolling(page, shots):
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=shots / "phone.png", full_page=True)


def test_a_server_with_a_key_asks_for_it_then_serves_the_page(browser, models):
    reviews = ServedModel("reviews", models["classify"].task)
    app = create_app({"reviews": reviews}, ServeSettings(api_key=KEY))
    with ServerThread(app) as keyed:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(keyed.url + "/")
        alert = page.locator("#page-error")
        alert.wait_for()
        assert alert.inner_text().startswith("Error 401: a valid API key is needed")
        page.get_by_label("API key").fill(KEY)
        page.get_by_role("button", name="Use key").click()
        page.get_by_role("status").filter(has_text="1 model served").wait_for()
        assert alert.is_hidden()
        reviews = panel(page, "reviews")
        reviews.get_by_label("Text to classify").fill("good film 1")
        reviews.get_by_role("button", name="Classify").click()
        assert reviews.locator(".predicted-label").inner_text() in ("good", "bad")
        page.close()


def test_an_uploaded_image_is_captioned_and_a_non_image_refused(browser, tmp_path):
    """The caption panel's upload, against a captioner that names what reached it (a trained
    one takes long to make; tests/serve/test_caption.py serves a real one)."""
    Image = pytest.importorskip("PIL.Image")
    seen = []

    def caption(paths, **options):
        seen.append(options)
        return [{"output": f"an image of {Path(p).stat().st_size} bytes", "log_prob": -1.0,
                 "score": -1.0} for p in paths]  # fmt: skip

    task = SimpleNamespace(NAME="caption", settings={}, checkpoint=None, caption=caption)
    picture, text = tmp_path / "red.png", tmp_path / "notes.png"
    Image.new("RGB", (24, 24), (220, 30, 30)).save(picture)
    text.write_text("not an image")
    app = create_app({"pictures": ServedModel("pictures", task)}, ServeSettings())
    with ServerThread(app) as served:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(served.url + "/")
        pictures = panel(page, "pictures")
        pictures.get_by_label("Image").set_input_files(picture)
        pictures.get_by_label("Beam width").fill("2")
        pictures.get_by_role("button", name="Caption").click()
        caption_text = pictures.locator(".caption").inner_text()
        assert caption_text == f"an image of {picture.stat().st_size} bytes"
        assert seen == [{"beam": 2}]
        assert pictures.get_by_role("img", name="the uploaded image").is_visible()
        pictures.get_by_label("Image").set_input_files(text)
        pictures.get_by_role("button", name="Caption").click()
        message = pictures.get_by_role("alert").inner_text()
        assert message == "Error 400: the image is not an image file Pillow can read; " + (
            "expected PNG, JPEG, ..."
        )
        page.close()


def test_an_uploaded_recording_is_classified_and_a_non_wav_refused(browser, speech_folder,
                                                                    tmp_path, shots):  # fmt: skip
    """The speech panel's WAV upload against a tiny speech classifier of tones."""
    from rnnkit.serve import load_models

    run, recordings = speech_folder
    recording = sorted(recordings.glob("1_*.wav"))[0]
    text = tmp_path / "notes.wav"
    text.write_text("not a recording")
    app = create_app(load_models([], [("digits", run)], device="cpu"), ServeSettings())
    with ServerThread(app) as served:
        expected = httpx.post(f"{served.url}/v1/models/digits/classify", files={
            "audio": (recording.name, recording.read_bytes(), "audio/wav")}).json()  # fmt: skip
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(served.url + "/")
        digits = panel(page, "digits")
        assert digits.get_attribute("data-task") == "speech"
        digits.get_by_label("Recording", exact=True).set_input_files(recording)
        digits.get_by_role("button", name="Classify recording").click()
        row = expected["predictions"][0]
        assert digits.locator(".predicted-label").inner_text() == row["label"]
        bars = digits.get_by_role("list", name="probability of each label").get_by_role("listitem")
        assert bars.count() == len(row["probabilities"])
        assert digits.locator("audio[aria-label='the uploaded recording']").count() == 1
        page.screenshot(path=shots / "speech.png", full_page=True)
        digits.get_by_label("Recording", exact=True).set_input_files(text)
        digits.get_by_role("button", name="Classify recording").click()
        message = digits.get_by_role("alert").inner_text()
        assert message == ("Error 400: the audio file cannot be used: not a WAV; expected a PCM "
                           "WAV file (8, 16, 24 or 32 bits)")  # fmt: skip
        page.close()


def test_pasted_sequences_get_their_predictions(browser, regress_folder, shots):
    """The regress panel: one sequence a line (numbers, or a JSON array of rows) -> a table of
    the predictions the API gives; a word that is no number is caught on the page."""
    from rnnkit.serve import load_models

    app = create_app(load_models([], [("sums", regress_folder)], device="cpu"), ServeSettings())
    lines = ["0.5, -1, 2", "[[0.1], [0.2], [0.3]]"]
    with ServerThread(app) as served:
        expected = httpx.post(f"{served.url}/v1/models/sums/predict", json={
            "sequences": [[0.5, -1, 2], [[0.1], [0.2], [0.3]]]}).json()  # fmt: skip
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(served.url + "/")
        sums = panel(page, "sums")
        assert sums.get_attribute("data-task") == "regress"
        sums.get_by_label("Sequences").fill("\n".join(lines))
        sums.get_by_role("button", name="Predict").click()
        sums.locator("tbody tr").nth(1).wait_for()
        cells = [sums.locator("tbody tr").nth(i).locator("td").all_inner_texts() for i in (0, 1)]
        assert cells == [[str(i + 1), f"{row['prediction']['target']:.6g}"]
                         for i, row in enumerate(expected["predictions"])]  # fmt: skip
        page.screenshot(path=shots / "regress.png", full_page=True)
        sums.get_by_label("Sequences").fill("1 2 three")
        sums.get_by_role("button", name="Predict").click()
        assert sums.get_by_role("alert").inner_text() == 'Error: line 1: "three" is not a number'
        page.close()
