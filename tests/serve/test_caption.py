"""Captioning over HTTP: base64 images in a JSON body and a multipart upload, against a tiny
captioner trained on a few generated pictures; images that are not images, or too large."""

import base64
import io

import pytest
import torch
from fastapi.testclient import TestClient

import rnnkit
from rnnkit.serve import ServeSettings, create_app, load_models

Image = pytest.importorskip("PIL.Image")

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def png(colour, size=(40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def captioner(tmp_path_factory):
    """A tiny captioner of red and blue squares, served with a small image limit."""
    root = tmp_path_factory.mktemp("caption")
    paths, captions = [], []
    for i in range(8):
        name = "red" if i % 2 else "blue"
        path = root / f"{name}{i}.png"
        path.write_bytes(png(COLOURS[name]))
        paths.append(str(path))
        captions.append(f"a {name} square")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNNKIT_CACHE", str(root / "cache"))
        torch.manual_seed(0)
        rnnkit.ImageCaptioner(image_size=32, channels=4, stages=2, embed=8, hidden=8,
                              min_freq=1, epochs=1, bleu_images=2, verbose=0,
                              ).fit(paths, captions, out=root / "run")  # fmt: skip
    models = load_models([], [("squares", root / "run")], device="cpu")
    limits = ServeSettings(max_image_pixels=100 * 100, max_request_bytes=200_000)
    with TestClient(create_app(models, limits)) as client:
        yield client


def test_base64_images_get_captions_with_log_probabilities(captioner):
    images = [base64.b64encode(png(c)).decode() for c in COLOURS.values()]
    response = captioner.post("/v1/models/squares/predict",
                              json={"images": images, "beam": 2, "n_best": 2})  # fmt: skip
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert [row["input"] for row in rows] == [0, 1]  # positions, never a path on the server
    for row in rows:
        assert isinstance(row["output"], str) and row["log_prob"] <= 0
        assert len(row["n_best"]) == 2 and row["n_best"][0]["output"] == row["output"]


def test_a_multipart_upload_gets_the_same_caption(captioner):
    image = png(COLOURS["red"])
    upload = captioner.post("/v1/models/squares/caption", data={"beam": "2"},
                            files={"image": ("red.png", image, "image/png")})  # fmt: skip
    assert upload.status_code == 200, upload.text
    body = {"images": [base64.b64encode(image).decode()], "beam": 2}
    plain = captioner.post("/v1/models/squares/predict", json=body).json()
    assert upload.json()["predictions"][0]["output"] == plain["predictions"][0]["output"]


@pytest.mark.parametrize("request_kind,payload,status,words", [
    ("json", {"images": ["not base64!"]}, 400, "not valid base64"),
    ("json", {"images": [base64.b64encode(b"plain text").decode()]}, 400, "not an image file"),
    ("json", {"images": [base64.b64encode(png((0, 0, 0), (200, 200))).decode()]}, 400,
     "200x200 pixels; expected at most 10,000"),
    ("json", {"images": []}, 422, "at least 1 item"),
    ("json", {"images": ["aGk="], "beam": 0}, 422, "beam"),
    ("upload", b"plain text", 400, "not an image file"),
    ("upload", None, 422, "image"),
])  # fmt: skip
def test_bad_images_get_a_clear_4xx(captioner, request_kind, payload, status, words):
    if request_kind == "json":
        response = captioner.post("/v1/models/squares/predict", json=payload)
    elif payload is None:
        response = captioner.post("/v1/models/squares/caption", data={"beam": "1"})
    else:
        response = captioner.post("/v1/models/squares/caption",
                                  files={"image": ("x.png", payload, "image/png")})  # fmt: skip
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]


def test_the_openapi_schema_documents_both_caption_bodies(captioner):
    schema = captioner.get("/openapi.json").json()
    assert "CaptionRequest" in schema["components"]["schemas"]
    upload = schema["paths"]["/v1/models/squares/caption"]["post"]["requestBody"]
    assert "multipart/form-data" in upload["content"]
