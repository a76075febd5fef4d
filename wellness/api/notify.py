"""A member's notification channels for the app: read and replace them."""

from __future__ import annotations

from flask_login import current_user
from pydantic import Field

from wellness.api.routes import api_auth, bp
from wellness.api.spec import Body, Out, api_spec, responses
from wellness.errors import WellnessError
from wellness.notify import services


class ChannelsOut(Out):
    inapp: bool = True
    sms: bool
    email: bool
    email_address: str | None


class ChannelsRequest(Body):
    sms: bool
    email: bool
    email_address: str | None = Field(..., max_length=254)


def _out(chosen: dict) -> ChannelsOut:
    return ChannelsOut(
        sms=chosen["sms"], email=chosen["email"], email_address=chosen["email_address"]
    )


@bp.get("/me/channels")
@api_auth()
@api_spec.validate(resp=responses("HTTP_200", ChannelsOut), tags=["notify"])
def get_channels():
    """Where the member hears from us besides the in-app inbox (always on)."""
    return _out(services.channels_for(current_user._get_current_object()))


@bp.put("/me/channels")
@api_auth()
@api_spec.validate(
    json=ChannelsRequest, resp=responses("HTTP_200", ChannelsOut, "HTTP_422"), tags=["notify"]
)
def put_channels(json: ChannelsRequest):
    """Replace the member's channel choices; e-mail needs a valid address."""
    try:
        chosen = services.save_channels(
            current_user._get_current_object(),
            sms=json.sms,
            email_address=json.email_address,
            email=json.email,
        )
    except WellnessError as error:
        # The service names the address "email"; in this body it is email_address.
        error.fields = {
            ("email_address" if name == "email" else name): code
            for name, code in error.fields.items()
        }
        raise
    return _out(chosen)
