"""Schemathesis against the app's own OpenAPI: generated requests never get a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from web.app import create_app

pytestmark = pytest.mark.slow
MUTATING = {("POST", "/v1/documents"), ("DELETE", "/v1/documents/{doc_id}")}


def test_generated_requests_never_crash_the_server(corpus_index, assistant) -> None:  # noqa: ANN001
    app = create_app(corpus_index, assistant=assistant)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in MUTATING:
            continue  # covered by test_web_api on a throwaway index

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:  # noqa: ANN001
            response = case.call()
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
            if response.status_code >= 400:
                assert "error" in response.json()

        run()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /v1/answer" in checked and "POST /v1/search" in checked and len(checked) >= 8
