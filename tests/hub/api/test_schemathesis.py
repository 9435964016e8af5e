"""Property-based API test: generated requests from the app's own OpenAPI never get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as asgi_transport

from hub.app import create_app
from hub.db.auth_models import Role
from hub.db.engine import make_engine
from tests.hub.conftest_api import T0, Api, decl_json, hub_settings

#: Generated examples per operation: enough to hit edge cases, small enough to stay fast.
EXAMPLES = 12


@pytest.fixture
def hub_api() -> Iterator[Api]:
    """A hub app with a few declarations, so that reads have something to return."""
    from contracts.clock import ManualClock

    engine = make_engine("sqlite://")
    clock = ManualClock(T0)
    app = create_app(hub_settings(), engine=engine, clock=clock)
    with TestClient(app) as client:
        api = Api(app, client, engine, clock)
        for n in range(1, 4):
            api.client.post(
                "/api/v1/declarations", json=decl_json(n), headers=api.as_role(Role.ADMIN)
            )
        yield api
    engine.dispose()


def test_no_server_errors(hub_api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", hub_api.app)
    headers = hub_api.as_role(Role.ADMIN)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as err:  # collected so every operation gets its turn
            failures.append(f"{operation.label}: {str(err)[:600]}")
    asgi_transport._shutdown()  # schemathesis keeps one event-loop thread until exit otherwise
    assert operations >= 15
    assert not failures, "\n\n".join(failures)
