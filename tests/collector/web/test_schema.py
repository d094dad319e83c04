"""schemathesis against /openapi.json: generated requests to every operation find no 500.

Bounded to run in CI: EXAMPLES generated requests per operation, no deadline (the machine is
shared), explicit examples and generation only. Each request is sent twice, as the admin (who
passes every role gate and so reaches the handlers' own checks) and as a platform engineer
(scope checks), through the test client that already runs the app, so the InfluxDB client
lives in one event loop. Every 4xx of the API must be problem details.

(``schemathesis.pytest.from_fixture`` would give one pytest item per operation, but it reads a
private attribute pytest 9 no longer has; one test looping over the operations with
Hypothesis directly does the same work and names the operation that fails.)
"""

from __future__ import annotations

import time
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok

from tests.collector.web.world import World

EXAMPLES = 25
_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _check(case: Any, client: TestClient, world: World) -> None:
    for user in ("admin", "eng-a"):
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=world.headers(user))
        kwargs.pop("follow_redirects", None)
        # The schema declares no cookie parameter; httpx deprecates per-request cookies.
        assert not kwargs.pop("cookies", None)
        if isinstance(kwargs.get("data"), bytes | str):  # raw bodies go as content= in httpx
            kwargs["content"] = kwargs.pop("data")
        response = client.request(**kwargs, follow_redirects=False)
        case.validate_response(response, checks=[not_a_server_error])
        if 400 <= response.status_code < 500:
            assert response.headers["content-type"] == "application/problem+json", response.text


def test_no_generated_request_gets_a_500(client: TestClient, world: World) -> None:
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), [r.err() for r in results if isinstance(r, Err)]
    assert len(operations) >= 20  # every API operation is in the schema
    timings = {}
    for operation in operations:
        started = time.perf_counter()

        @_SETTINGS
        @given(case=operation.as_strategy())
        def generated(case: Any) -> None:
            _check(case, client, world)

        try:
            generated()
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc
        timings[operation.label] = time.perf_counter() - started
    print(f"schemathesis: {len(operations)} operations, {sum(timings.values()):.1f} s")
