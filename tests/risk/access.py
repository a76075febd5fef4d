from tests.authz import ADMIN, COUNSELOR, WORKER

C = frozenset({COUNSELOR})

ACCESS = {
    "risk.queue": C,
    "risk.claim": C,
    "risk.view_flag": C,
    "risk.log_contact": C,
    "risk.resolve": C,
    "risk.reopen": C,
    "risk.safety_plan": C,
    "risk.complete_follow_up": C,
    "risk.my_safety_plan": frozenset({WORKER}),
    "risk.request_callback": frozenset({WORKER}),
    "risk.supervision": frozenset({ADMIN}),
    "risk.supervise_case": frozenset({ADMIN}),
    "risk.transfer_case": C,
    "api.risk_queue": C,
    "api.claim_flag": C,
    "api.resolve_flag": C,
    "api.transfer_flag": frozenset({COUNSELOR, ADMIN}),
}
