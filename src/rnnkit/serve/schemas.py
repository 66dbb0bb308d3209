"""The request bodies of each task's endpoints, as pydantic models whose limits come from the
server's settings, so the OpenAPI schema states them and a body outside them is a 422.

An optional field left out (or null) means the task's own default; the defaults are written
once, in the task's verbs.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rnnkit.serve.settings import ServeSettings
from rnnkit.tasks.classify.explain import METHODS

__all__ = [
    "ERROR_RESPONSES",
    "MAX_FEATURES",
    "MAX_GUESSES",
    "MAX_UNITS",
    "ErrorResponse",
    "request_models",
]

MAX_UNITS = 64  # the most units of a language model one activations request may ask for
MAX_GUESSES = 20  # the most next-token guesses per position one activations request may ask for
MAX_FEATURES = 1024  # the most numbers of one step of a sequence to regress
FLOAT32_MAX = 3.4028234663852886e38  # the largest float32: a model reads its inputs as float32


class Request(BaseModel):
    """A request body: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    def given(self) -> dict[str, Any]:
        """The fields the client set (not null): the options passed on to the task."""
        return self.model_dump(exclude_none=True)


class ErrorDetail(BaseModel):
    """What was wrong with a request."""

    status: int = Field(..., description="the HTTP status")
    message: str = Field(..., description="what was wrong and what was expected")
    details: list[dict[str, Any]] | None = Field(
        None, description="each place a body failed its schema: loc, msg, type (422 only)"
    )


class ErrorResponse(BaseModel):
    """Every error the server answers (rnnkit.serve.errors)."""

    error: ErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


# status -> the OpenAPI response of every error an endpoint may answer (401: with an API key set)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("the task refused the input (e.g. a text with no known token, a bad image)"),
    401: _error("no or a wrong API key"),
    404: _error("no such model or endpoint"),
    413: _error("the request body is over the server's limit"),
    422: _error("a body, query or form outside its schema or the server's limits"),
    504: _error("the request computed past the server's timeout"),
}


def request_models(limits: ServeSettings) -> dict[str, type[Request]]:
    """Task name -> its predict request model (and "generate" -> a language model's; "explain",
    "activations", "attention" -> those endpoints' of ``handlers.VIEWS``), with ``limits``'
    bounds on batch size, text length and generation length."""
    one_text = Annotated[str, StringConstraints(max_length=limits.max_text_length)]
    batch = {"min_length": 1, "max_length": limits.max_batch}

    def beam_field() -> Any:
        return Field(None, ge=1, le=limits.max_beam, description="beam width; 1: greedy search")

    def alpha_field() -> Any:
        return Field(None, ge=0, le=10, description="length normalisation exponent")

    def length_field(what: str) -> Any:
        return Field(None, ge=1, le=limits.max_length, description=f"the most tokens of {what}")

    class ClassifyRequest(Request):
        """Texts to classify."""

        texts: list[one_text] = Field(..., **batch, description="the texts to classify")

    class ExplainRequest(Request):
        """Texts to classify, with each token's contribution to the predicted label's
        probability: by occlusion, p(label | text) - p(label | the text with that token read as
        <unk>); by gradient x input, the gradient of p(label | text) at the token's embedding
        dotted with that embedding."""

        texts: list[one_text] = Field(..., **batch, description="the texts to explain")
        method: Literal[METHODS] | None = Field(  # type: ignore[valid-type]
            None, description=f"how (default: {METHODS[0]})"
        )

    class ActivationsRequest(Request):
        """A text for a language model to read, and which of its units to record after each
        token (what rnnkit visualize draws)."""

        text: one_text = Field(..., description="the text to read")
        layer: int | None = Field(None, ge=1, description="1: the first (default: the last)")
        state: Literal["cell", "hidden"] | None = Field(
            None, description="cell: tanh(c_t) of an LSTM (its default); hidden: h_t"
        )
        units: list[Annotated[int, Field(ge=0)]] | None = Field(
            None, min_length=1, max_length=MAX_UNITS,
            description="the units to record (default: those that vary most over the text)",
        )  # fmt: skip
        num_units: int | None = Field(
            None, ge=1, le=MAX_UNITS, description="without units: how many (default: 6)"
        )
        top: int | None = Field(
            None, ge=1, le=MAX_GUESSES, description="next-token guesses per position (default: 5)"
        )

    class AttentionRequest(Request):
        """One sentence to translate, with the attention of its translation."""

        sentence: one_text = Field(..., description="the sentence to translate")
        beam: int | None = beam_field()
        alpha: float | None = alpha_field()
        max_length: int | None = length_field("the translation")

    class GenerateRequest(Request):
        """A prime for a language model to continue, and how to sample."""

        prime: one_text = Field("", description="the text to continue (default: none)")
        length: int | None = Field(
            None, ge=0, le=limits.max_length,
            description="tokens to generate (default: 500 characters or 100 words, at most "
            "the server's max_length)",
        )  # fmt: skip
        temperature: float | None = Field(
            None, ge=0, le=100, description="softmax temperature; 0: the most likely token"
        )
        top_k: int | None = Field(None, ge=1, description="sample among the K likeliest only")
        top_p: float | None = Field(None, gt=0, le=1, description="nucleus sampling mass")
        greedy: bool | None = Field(None, description="always take the most likely token")
        seed: int | None = Field(None, ge=0, lt=2**63, description="the same seed, the same text")
        samples: int | None = Field(
            None, ge=1, le=limits.max_batch,
            description="continuations of the prime, generated together (default 1; more than "
            "1 answers outputs and texts, one per sample, and cannot stream)",
        )  # fmt: skip

    class TranslateRequest(Request):
        """Sentences to translate, and the beam search."""

        sentences: list[one_text] = Field(..., **batch, description="the sentences to translate")
        beam: int | None = beam_field()
        alpha: float | None = alpha_field()
        max_length: int | None = length_field("a translation")

    class ForecastRequest(Request):
        """The latest values of a series (oldest first), to forecast past their end."""

        values: list[float] | list[list[float]] = Field(
            ..., min_length=2, max_length=limits.max_text_length,
            description="the series: one number per step, or one list per step for a model "
            "of several targets",
        )  # fmt: skip
        timestamps: list[datetime] | None = Field(
            None, max_length=limits.max_text_length,
            description="the time of each value (ISO 8601), for dated forecasts",
        )  # fmt: skip
        steps: int | None = Field(
            None, ge=1, le=limits.max_length, description="steps to forecast (default: the horizon)"
        )

    number = Annotated[float, Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
    one_step = Annotated[list[number], Field(min_length=1, max_length=MAX_FEATURES)]
    one_sequence = Annotated[
        list[number] | list[one_step], Field(min_length=1, max_length=limits.max_steps)
    ]

    class RegressRequest(Request):
        """Sequences to regress, oldest step first: each a list of numbers (one feature a step)
        or of rows (one list of the model's features a step); sequences may differ in length."""

        sequences: list[one_sequence] = Field(  # type: ignore[valid-type]
            ..., **batch, description="the sequences: finite float32 numbers, or rows of them"
        )

    class CaptionRequest(Request):
        """Images to caption, each a base64-encoded image file (PNG, JPEG, ...)."""

        images: list[Annotated[str, StringConstraints(max_length=limits.max_request_bytes)]] = (
            Field(..., **batch, description="base64-encoded image files")
        )
        beam: int | None = beam_field()
        alpha: float | None = alpha_field()
        n_best: int | None = Field(None, ge=1, le=limits.max_beam,
                                   description="captions per image, best first")  # fmt: skip
        max_length: int | None = length_field("a caption")

    class SpeechRequest(Request):
        """Recordings to classify, each a base64-encoded PCM WAV file."""

        audio: list[Annotated[str, StringConstraints(max_length=limits.max_request_bytes)]] = Field(
            ..., **batch, description="base64-encoded WAV files"
        )

    return {
        "classify": ClassifyRequest,
        "explain": ExplainRequest,
        "activations": ActivationsRequest,
        "attention": AttentionRequest,
        "lm": GenerateRequest,
        "generate": GenerateRequest,
        "translate": TranslateRequest,
        "forecast": ForecastRequest,
        "regress": RegressRequest,
        "caption": CaptionRequest,
        "speech": SpeechRequest,
    }
