"""Rating an attended appointment from the app."""

from __future__ import annotations

from datetime import datetime

from flask_login import current_user
from pydantic import Field

from wellness.api.routes import api_auth, bp
from wellness.api.spec import Body, Out, api_spec, responses
from wellness.feedback import services


class RatingRequest(Body):
    score: int = Field(..., ge=1, le=5)
    comment: str | None = Field(None, max_length=1000)


class RatingOut(Out):
    id: int
    subject_kind: str
    subject_id: int
    score: int
    comment: str | None
    created_at: datetime


@bp.post("/appointments/<int:appointment_id>/rating")
@api_auth("worker")
@api_spec.validate(
    json=RatingRequest,
    resp=responses("HTTP_201", RatingOut, "HTTP_404", "HTTP_409", "HTTP_422"),
    tags=["feedback"],
)
def rate_appointment(appointment_id: int, json: RatingRequest):
    """Rate your own attended appointment once (1-5, optional comment). 404: not yours;
    409: not attended, or already rated."""
    rating = services.rate_appointment(
        current_user._get_current_object(), appointment_id, json.score, json.comment
    )
    return RatingOut(
        id=rating.id,
        subject_kind=rating.subject_kind,
        subject_id=rating.subject_id,
        score=rating.score,
        comment=rating.comment,
        created_at=rating.created_at,
    ), 201
