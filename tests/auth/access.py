"""Access rows for the auth blueprint and its API endpoints."""

from tests.authz import ADMIN, ANON, COUNSELOR, EVERYONE, SIGNED_IN, WORKER  # noqa: F401

ACCESS = {
    "auth.login": EVERYONE,
    "auth.register": EVERYONE,
    "auth.logout": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.consent": frozenset({WORKER}),
    "auth.withdraw_consent": frozenset({WORKER}),
    "auth.my_data": frozenset({WORKER}),
    "auth.export_my_data": frozenset({WORKER}),
    "auth.list_users": frozenset({ADMIN}),
    "auth.create_user": frozenset({ADMIN}),
    "auth.edit_user": frozenset({ADMIN}),
    "auth.org_units": frozenset({ADMIN}),
    "auth.forgot_password": EVERYONE,
    "auth.reset_password": EVERYONE,
    "auth.admin_reset_password": frozenset({ADMIN}),
    "api.request_password_reset": EVERYONE,
    "api.confirm_password_reset": EVERYONE,
    "api.change_password": SIGNED_IN,
}
