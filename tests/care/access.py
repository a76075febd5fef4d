from tests.authz import ADMIN, COUNSELOR, WORKER

C = frozenset({COUNSELOR})
STAFF = frozenset({COUNSELOR, ADMIN})

ACCESS = {
    "care.caseload": C,
    "care.assign": C,
    "care.new_episode": C,
    "care.episode": STAFF,
    "care.book": C,
    "care.close": C,
    "care.progress_chart": STAFF,
    "care.my_plan": frozenset({WORKER}),
    "api.my_care_plans": frozenset({WORKER}),
    "api.open_care_plan": C,
    "api.book_care_sessions": C,
}
