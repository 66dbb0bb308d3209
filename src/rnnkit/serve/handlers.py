"""What each task's endpoint does with a checked request body: call the task's verb (in a
worker thread, under the model's lock) and shape its result as JSON. Nothing of a task is
re-implemented here, and nothing of a request becomes a path on this machine: inputs reach the
task as in-memory values (an uploaded image only as a file the server names itself)."""

from __future__ import annotations

import base64
import binascii
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from threading import Event
from typing import Any

from rnnkit.errors import UserError
from rnnkit.serve.models import ServedModel
from rnnkit.serve.settings import ServeSettings
from rnnkit.tasks.lm.generate import DEFAULT_LENGTH

__all__ = [
    "BATCHED",
    "BATCH_GROUPS",
    "batch_limit",
    "HANDLERS",
    "Handler",
    "Stopped",
    "VIEWS",
    "caption_files",
    "check_image",
    "decode_audio",
    "decode_image",
    "generation_options",
    "read_audio",
    "speech_rows",
]

DROPPED = ("report", "plot")  # what a verb returns for people or for files: not for the API


def classify(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """``{"predictions": [{"input", "label", "probabilities"}, ...]}`` of the texts."""
    return {"predictions": model.call("predict_rows", body["texts"])}


def explain(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """``{"predictions": [{"input", "label", "probabilities", "tokens", "contributions"}]}``:
    each text's prediction and each token's contribution (``TextClassifier.explain``)."""
    texts = body.pop("texts")
    return {"predictions": model.call("explain", texts, **body)}


def activations(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """What ``LanguageModel.activations`` returns: the chosen units' values after each token of
    the text, and the next-token guesses."""
    text = body.pop("text")
    return model.call("activations", text, **body)


def attention(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """What ``Translator.attention`` returns for one sentence (no plot): the translation, the
    source and target pieces and the attention weights (one row per target piece)."""
    sentence = body.pop("sentence")
    result = model.call("attention", sentence, **body)
    return {key: value for key, value in result.items() if key not in DROPPED}


class Stopped(Exception):
    """Raised in a generation whose request timed out or whose client went away."""


def generation_options(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event,
    on_text: Callable[[str], Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``generate``'s keywords from a body: its default length capped at the server's limit,
    and an ``on_text`` that passes each piece on and ends the generation once ``stop`` is set."""

    def each_piece(piece: str) -> None:
        if stop.is_set():
            raise Stopped
        if on_text is not None:
            on_text(piece)

    if on_text is not None and body.get("samples", 1) != 1:
        raise UserError(
            f"a stream sends one text as it comes; expected samples 1 with stream=true, got "
            f"samples {body['samples']}"
        )
    options = dict(body, on_text=each_piece)
    prime = options.pop("prime", "")
    if "length" not in options:
        level = model.task.settings["data"].level
        options["length"] = min(DEFAULT_LENGTH[level], limits.max_length)
    return {"prime": prime, **options}


def generate(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """What ``LanguageModel.generate`` returns for the prime and sampling settings."""
    return model.call("generate", **generation_options(model, body, limits, stop))


def translate(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """``{"predictions": [{"input", "output", "score"}, ...]}`` of the sentences."""
    sentences = body.pop("sentences")
    return {"predictions": model.call("translate", sentences, **body)}


def forecast(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """``Forecaster.forecast`` of the posted series (a pandas series when dated)."""
    values, stamps = body.pop("values"), body.pop("timestamps", None)
    needed = model.task.settings["data"].input_length + 1  # as Forecaster.predict_rows asks
    if len(values) < needed:  # Forecaster.forecast itself would read a shorter window
        raise UserError(
            f"{len(values)} values are too few; expected at least {needed} (input_length + 1)"
        )
    series: Any = values
    if stamps is not None:
        if len(stamps) != len(values):
            raise UserError(
                f"{len(stamps)} timestamps for {len(values)} values; expected one per value"
            )
        try:
            import pandas as pd
        except ImportError:
            raise UserError(
                "timestamps need pandas on the server (pip install 'rnnkit[pandas]'); expected "
                "values alone"
            ) from None
        targets = model.task.preprocessing.history.target_names  # the names the model knows
        if isinstance(values[0], list) or len(targets) != 1:
            raise UserError(
                "timestamps go with a model of one target so far; expected values as one "
                "number per step for such a model, or no timestamps"
            )
        index = pd.DatetimeIndex([s.replace(tzinfo=None) for s in stamps])
        series = pd.Series(values, index=index, name=targets[0])
    result = model.call("forecast", body.get("steps"), data=series)
    return {key: value for key, value in result.items() if key not in DROPPED}


def regress(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """``{"predictions": [{"input", "prediction": {target: value}}, ...]}`` of the sequences."""
    return {"predictions": model.call("predict_rows", body["sequences"])}


def caption(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """``{"predictions": [{"input": position, "output", "log_prob", "score"}, ...]}``."""
    images = [decode_image(text, i, limits) for i, text in enumerate(body.pop("images"))]
    return {"predictions": caption_files(model, images, body)}


def caption_files(
    model: ServedModel, images: list[bytes], options: dict[str, Any]
) -> list[dict[str, Any]]:
    """The captions of image files given as bytes: written to a temporary folder under names
    the server chooses, captioned, and deleted; each row's ``input`` is the image's position."""
    with tempfile.TemporaryDirectory(prefix="rnnkit-serve-") as folder:
        paths = []
        for i, data in enumerate(images):
            path = Path(folder) / f"image-{i}"
            path.write_bytes(data)
            paths.append(path)
        rows = model.call("caption", paths, **options)
    return [{**row, "input": i} for i, row in enumerate(rows)]


def decode_image(text: str, index: int, limits: ServeSettings) -> bytes:
    """The bytes of the base64 image ``index``, checked to be an image Pillow reads and no
    larger than ``max_image_pixels`` (only its header is read for that)."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UserError(
            f"image {index} is not valid base64; expected a base64-encoded image file"
        ) from None
    check_image(data, f"image {index}", limits)
    return data


def check_image(data: bytes, what: str, limits: ServeSettings) -> None:
    """A UserError unless ``data`` is an image file within ``max_image_pixels``."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise UserError(
            "captioning needs Pillow on the server (pip install 'rnnkit[image]')"
        ) from None
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise UserError(
            f"{what} is not an image file Pillow can read; expected PNG, JPEG, ..."
        ) from None
    if width * height > limits.max_image_pixels:
        raise UserError(
            f"{what} has {width}x{height} pixels; expected at most {limits.max_image_pixels:,}"
        )


def speech(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings, stop: Event
) -> dict[str, Any]:
    """``{"predictions": [{"input", "label", "probabilities"}, ...]}`` of base64 WAV files."""
    files = [decode_audio(text, i, model) for i, text in enumerate(body["audio"])]
    return {"predictions": speech_rows(model, files)}


def speech_rows(model: ServedModel, files: list[bytes]) -> list[dict[str, Any]]:
    """A speech classifier's rows of WAV files' bytes (read and checked already), each with
    its position as its input (never a path on the server)."""
    from rnnkit.tasks.classify.report import prediction_rows

    probabilities = model.call("predict_proba", files)
    rows = prediction_rows(list(range(len(files))), probabilities, model.task.classes_)
    return rows


def decode_audio(text: str, index: int, model: ServedModel) -> bytes:
    """The bytes of the base64 WAV file ``index``, checked by the audio reader."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UserError(
            f"audio {index} is not valid base64; expected a base64-encoded WAV file"
        ) from None
    read_audio(data, f"audio {index}", model)
    return data


def read_audio(data: bytes, what: str, model: ServedModel) -> None:
    """A UserError with the WAV reader's reason (not a WAV, unsupported, damaged, empty)
    unless ``data`` is a PCM WAV file the speech classifier can read."""
    from rnnkit.data.audio import AudioError, read_wav

    try:
        read_wav(data)  # its header and samples; resampled later, by the task
    except AudioError as error:
        reason = str(error).partition(": ")[2] or error.reason
        raise UserError(f"{what} cannot be used: {reason}; expected a PCM WAV file "
                        "(8, 16, 24 or 32 bits)") from None  # fmt: skip


# (model, the request's options, the limits, the stop flag) -> the JSON answer
Handler = Callable[[ServedModel, dict[str, Any], ServeSettings, Event], dict[str, Any]]

# task name -> how its predict requests join into one call (rnnkit.serve.batching): the body's
# list of items, the task's verb over such a list (one row an item), and the answer's key of
# the rows — what ``HANDLERS[task]`` answers, computed for several requests at once
BATCHED: dict[str, tuple[str, str, str]] = {
    "classify": ("texts", "predict_rows", "predictions"),
    "regress": ("sequences", "predict_rows", "predictions"),
    "translate": ("sentences", "translate", "predictions"),
}


def translate_group(model: ServedModel, sentences: list[str], options: dict[str, Any]) -> Any:
    """What translate requests must share to join one call and get what they get alone: with
    no max_length, their longest source (a translation's default limit is twice the longest
    source of its batch plus 10, so a sentence joined with longer ones could run longer)."""
    if "max_length" in options:
        return None
    return max(model.task.source_lengths(sentences))


def batch_limit(model: ServedModel, max_batch_size: int) -> int:
    """The most items one joined call of ``model`` takes: ``max_batch_size``, and for a
    translator at most its batch_size (the sentences it decodes together, longest first: a
    larger call would decode some of a request's sentences beside shorter ones, under a
    shorter default limit)."""
    if model.task.NAME == "translate":
        return min(max_batch_size, model.task.settings["data"].batch_size)
    return max_batch_size


# task name -> what its predict requests must share to join a batch, beyond their options:
# (model, the request's items, its options) -> a group key (rnnkit.serve.batching)
BATCH_GROUPS: dict[str, Callable[[ServedModel, list[Any], dict[str, Any]], Any]] = {
    "translate": translate_group,
}

# task name -> its endpoints for seeing inside a model: POST /v1/models/{name}/{path} -> what
# it does (its request body: request_models(...)[path])
VIEWS: dict[str, dict[str, Handler]] = {
    "classify": {"explain": explain},
    "lm": {"activations": activations},
    "translate": {"attention": attention},
}

# task name -> what its predict endpoint does
HANDLERS: dict[str, Handler] = {
    "classify": classify,
    "lm": generate,
    "translate": translate,
    "forecast": forecast,
    "regress": regress,
    "caption": caption,
    "speech": speech,
}
