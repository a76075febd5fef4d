"""Who may reach each URL rule. Every route must have a row; the walker test enforces it.

Values: the identities that get a normal answer (2xx/3xx that is not the login page, or a
4xx that comes from input validation such as 404 for a missing id). Everyone else gets
401/redirect-to-login (anonymous) or 403 (signed in with the wrong role).
"""

ANON = "anonymous"
WORKER = "worker"
COUNSELOR = "counselor"
ADMIN = "admin"
EVERYONE = frozenset({ANON, WORKER, COUNSELOR, ADMIN})
SIGNED_IN = frozenset({WORKER, COUNSELOR, ADMIN})

# endpoint -> identities allowed
ACCESS: dict[str, frozenset[str]] = {
    "static": EVERYONE,
    "main.index": EVERYONE,
    "main.set_language": EVERYONE,
    "main.healthz": EVERYONE,
    # JSON API (bearer tokens)
    "api.openapi": EVERYONE,
    "api.docs": EVERYONE,
    "api.issue_token": EVERYONE,
    "api.revoke_token": SIGNED_IN,
    "api.me": SIGNED_IN,
    "api.get_consent": frozenset({WORKER}),
    "api.give_consent": frozenset({WORKER}),
    "api.withdraw_consent": frozenset({WORKER}),
}


def _merge_package_rows() -> None:
    """Each feature's tests/<pkg>/access.py adds its rows (ACCESS dict)."""
    import importlib

    from wellness.packages import FEATURE_PACKAGES, module_exists

    for package in FEATURE_PACKAGES:
        name = f"tests.{package}.access"
        if module_exists(name):
            ACCESS.update(importlib.import_module(name).ACCESS)


_merge_package_rows()
