"""Property-based fuzzing of the whole JSON API from its own OpenAPI document.

Every operation in /api/v1/openapi.json gets bounded, seeded (derandomised) examples, so
CI time is predictable. Checks: no server errors, responses conform to the schema, every
status code is documented. (Driven programmatically: schemathesis' lazy pytest fixture does
not work with pytest 9.)
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import PASSWORD
from wellness.auth import services as auth_services
from wellness.extensions import db

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def issue_token(app, user) -> str:
    with app.app_context():
        token, _row = auth_services.issue_api_token(user.phone, PASSWORD)
        db.session.remove()
    return token


def fuzz_operation(operation, headers_for) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.call_and_validate(headers=headers_for(), checks=CHECKS)

    run()


def test_every_operation_conforms(app, make_user):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    users = {role: make_user(role) for role in ("worker", "counselor", "admin")}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:
        for role, user in users.items():
            # A fresh token per example: an example may revoke the one it was given.
            def headers(user=user):
                return {"Authorization": f"Bearer {issue_token(app, user)}"}

            try:
                fuzz_operation(operation, headers)
            except Exception as error:
                raise AssertionError(f"{operation.label} as {role}: {error}") from error
