from tests.authz import ADMIN, WORKER

ACCESS = {
    "feedback.rate_appointment": frozenset({WORKER}),
    "reports.feedback_csv": frozenset({ADMIN}),
    "api.rate_appointment": frozenset({WORKER}),
}
