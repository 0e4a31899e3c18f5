"""Fuzzing the API from its own OpenAPI schema (schemathesis): a bounded number of
generated requests per operation; no answer may be a 5xx (other than the documented 503
for a missing database), and every answer must match what the schema documents (status
code, content type, body schema)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from bliatlas.api.app import create_app

MAX_EXAMPLES = 25
#: What every answer is held to. Not checked: whether the schema's parameter types are as
#: tight as the code's validation (``positive_data_acceptance``/``negative_data_rejection``:
#: many parameters are free text the code validates with a Norwegian 4xx).
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance,
          checks.response_headers_conformance]


schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())


@pytest.fixture(scope="module")
def served(imported_db):
    """The fuzzed app reads the imported database (schema loaded without one)."""
    from conftest import reset_app_caches

    mp = pytest.MonkeyPatch()
    mp.setenv("BLI_DATABASE", str(imported_db))
    reset_app_caches()
    yield imported_db
    reset_app_caches()
    mp.undo()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_answers_as_documented(case, served):
    response = case.call_and_validate(headers={"Host": "testserver"}, checks=CHECKS)
    assert response.status_code < 500 or response.status_code == 503, response.text[:500]


def test_every_operation_documents_its_errors_and_bodies(client):
    spec = client.get("/openapi.json").json()
    ops = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]
    assert len(ops) >= 16
    for path, method, op in ops:
        for code in ("400", "404", "422"):
            assert code in op["responses"], (method, path, code)
        ok = [r for c, r in op["responses"].items() if c.startswith("2")]
        assert ok and all(body.get("schema") for r in ok for body in r["content"].values()), \
            (method, path)
