"""Who may reach each hotline endpoint (merged into tests/authz.py by the walker)."""

from tests.authz import ADMIN, COUNSELOR, EVERYONE

STAFF = frozenset({COUNSELOR, ADMIN})
COUNSELORS = frozenset({COUNSELOR})
ADMINS = frozenset({ADMIN})

ACCESS = {
    "hotline.index": EVERYONE,
    "hotline.console": COUNSELORS,
    "hotline.view_call": COUNSELORS,
    "hotline.crisis": COUNSELORS,
    "hotline.acknowledge_handover": COUNSELORS,
    "hotline.roster": STAFF,
    "hotline.sign_up": COUNSELORS,
    "hotline.assign": ADMINS,
    "hotline.withdraw": STAFF,
    "hotline.request_swap": COUNSELORS,
    "hotline.swaps": STAFF,
    "hotline.decide_swap": STAFF,
    "hotline.templates": ADMINS,
    "hotline.stop_template": ADMINS,
    "hotline.coverage": STAFF,
    "hotline.supervisor": STAFF,
    "hotline.taxonomy": ADMINS,
    "hotline.edit_term": ADMINS,
    "hotline.standard_terms": ADMINS,
}
