"""Care plans book through the booking services: reuse booking's world of stations,
services and counsellor availability."""

from tests.booking.conftest import at_now, make_user, world  # noqa: F401 (fixtures)
