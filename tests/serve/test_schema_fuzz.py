"""The OpenAPI schema against the app, by schemathesis (in-process ASGI): requests generated
from the schema — valid ones and ones that break it — to every endpoint of tiny real models of
each served task but captioning (tests/serve/test_caption.py), each answered with a 2xx or a 4xx
the schema documents, in the content type and shape it documents, never a 500."""

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rnnkit.serve import create_app, load_models  # noqa: E402

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 12  # per endpoint and generation mode


@pytest.fixture(scope="module")
def schema(models, speech_folder, regress_folder, limits):
    more = load_models([], [("speech", speech_folder[0]), ("regress", regress_folder)],
                       device="cpu")  # fmt: skip
    app = create_app({**models, **more}, limits)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_generated_request_gets_a_documented_answer_never_a_500(schema, mode):
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12  # /health, /v1/models and each model's endpoints
    statuses = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def each_request(case):
            response = case.call_and_validate(checks=CHECKS)
            assert response.status_code < 500, response.text
            statuses.append(response.status_code)

        try:
            each_request()
        except Unsatisfiable:  # nothing to break: an endpoint that takes no input
            assert mode == GenerationMode.NEGATIVE and operation.method.upper() == "GET"
    assert len(statuses) >= 2 * len(operations), len(statuses)  # requests were sent
    print(f"{mode}: {len(statuses)} requests, statuses {sorted(set(statuses))}")
    assert (200 if mode == GenerationMode.POSITIVE else 422) in statuses, sorted(set(statuses))
