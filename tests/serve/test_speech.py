"""Speech classification over HTTP: a multipart WAV upload and base64 WAV files in a JSON body,
against a tiny speech classifier of tones; audio that is not usable gets a 400 with the WAV
reader's reason."""

import base64
import io
import wave

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rnnkit.serve import ServeSettings, create_app, load_models
from rnnkit.tasks import load


def wav_bytes(samples: np.ndarray, width: int = 2, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes((samples * (2 ** (8 * width - 1) - 1)).astype(f"<i{width}").tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def speech(speech_folder):
    run, recordings = speech_folder
    models = load_models([], [("digits", run)], device="cpu")
    with TestClient(create_app(models, ServeSettings(max_request_bytes=100_000))) as client:
        yield client, run, recordings


def test_an_uploaded_wav_gets_the_task_label_and_probabilities(speech):
    client, run, recordings = speech
    files = sorted(recordings.glob("*.wav"))[:3]
    expected = load(run, device="cpu").predict_proba([str(f) for f in files])
    for path, probabilities in zip(files, expected):
        upload = {"audio": (path.name, path.read_bytes(), "audio/wav")}
        response = client.post("/v1/models/digits/classify", files=upload)
        assert response.status_code == 200, response.text
        (row,) = response.json()["predictions"]
        assert row["input"] == 0  # a position, never a path
        assert set(row["probabilities"]) == {"0", "1"}
        assert row["probabilities"][row["label"]] == pytest.approx(probabilities.max(), abs=1e-6)
    body = {"audio": [base64.b64encode(f.read_bytes()).decode() for f in files]}
    rows = client.post("/v1/models/digits/predict", json=body).json()["predictions"]
    assert [row["input"] for row in rows] == [0, 1, 2]
    assert [row["probabilities"]["1"] for row in rows] == pytest.approx(expected[:, 1], abs=1e-6)


TONE = 0.3 * np.sin(2 * np.pi * 440 * np.arange(800) / 8000)


@pytest.mark.parametrize("payload,words", [
    (b"RIFF\x00\x00\x00\x00not a wave file at all", "not a WAV"),
    (b"just text", "not a WAV"),
    (b"", "empty"),
    (wav_bytes(TONE)[:30], "damaged"),
    (wav_bytes(TONE)[:-400], "damaged (truncated: 600 of 800 samples)"),
    (wav_bytes(TONE[:0]), "empty (no samples)"),
])  # fmt: skip
def test_bad_audio_gets_a_400_with_the_readers_reason(speech, payload, words):
    client = speech[0]
    response = client.post("/v1/models/digits/classify",
                           files={"audio": ("x.wav", payload, "audio/wav")})  # fmt: skip
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("the audio file cannot be used: ") and words in message, message
    body = {"audio": [base64.b64encode(payload).decode()]}
    response = client.post("/v1/models/digits/predict", json=body)
    assert response.status_code == 400 and words in response.json()["error"]["message"]


def test_requests_outside_the_schema_are_4xx(speech):
    client = speech[0]
    assert client.post("/v1/models/digits/classify", data={"x": "1"}).status_code == 422
    assert client.post("/v1/models/digits/predict", json={"audio": []}).status_code == 422
    response = client.post("/v1/models/digits/predict", json={"audio": ["not base64!"]})
    assert response.status_code == 400 and "not valid base64" in response.text
    big = {"audio": ["A" * 120_000]}
    assert client.post("/v1/models/digits/predict", json=big).status_code == 413
    upload = client.get("/openapi.json").json()["paths"]["/v1/models/digits/classify"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
