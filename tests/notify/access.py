"""Access rows for the notify blueprint and its API endpoints."""

from tests.authz import ADMIN, ANON, COUNSELOR, EVERYONE, SIGNED_IN, WORKER  # noqa: F401

ACCESS = {
    "notify.inbox": SIGNED_IN,
    "notify.mark_read": SIGNED_IN,
    "notify.settings": SIGNED_IN,
    "api.get_channels": SIGNED_IN,
    "api.put_channels": SIGNED_IN,
}
