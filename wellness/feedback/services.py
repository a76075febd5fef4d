"""Recording a rating. Eligibility (was the session the member's own and attended?) is the
caller's business; this checks the values and the once-only rule."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from wellness.auth.models import User
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound
from wellness.extensions import db
from wellness.feedback.models import COMMENT_MAX, SCORE_MAX, SCORE_MIN, Feedback, SubjectKind


def _score(value: object) -> int:
    """An integer 1-5 (an int or its digits as text; never a bool or a fraction)."""
    score = 0
    if isinstance(value, int) and not isinstance(value, bool):
        score = value
    elif isinstance(value, str) and value.strip().isdigit():
        score = int(value.strip())
    if not SCORE_MIN <= score <= SCORE_MAX:
        raise InvalidInput(str(_l("Choose a score from 1 to 5.")), {"score": "out_of_range"})
    return score


def record(
    member_id: int,
    subject_kind: str,
    subject_id: int,
    score: int,
    comment: str | None,
    now: datetime | None = None,
    counselor_id: int | None = None,
) -> Feedback:
    """Store one rating; joins the caller's transaction (no commit).

    Raises InvalidInput naming ``score``/``comment``/``subject_kind``, Conflict when the
    member already rated this subject (the unique row, checked inside a savepoint)."""
    now = now or utcnow()
    if subject_kind not in {kind.value for kind in SubjectKind}:
        raise InvalidInput(str(_l("Unknown kind of session.")), {"subject_kind": "invalid"})
    score = _score(score)
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_MAX:
        raise InvalidInput(
            str(_l("The comment can be at most %(max)s characters.", max=COMMENT_MAX)),
            {"comment": "too_long"},
        )
    member = db.session.get(User, member_id)
    if member is None:
        raise NotFound(str(_l("The member was not found.")))
    rating = Feedback(
        member_id=member_id,
        subject_kind=subject_kind,
        subject_id=subject_id,
        score=score,
        comment=comment,
        created_at=now,
        org_unit_id=member.org_unit_id,
        counselor_id=counselor_id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(rating)
    except IntegrityError:
        raise Conflict(
            str(_l("You have already rated this session.")), {"score": "already_rated"}
        ) from None
    return rating


def rating_for(member_id: int, subject_kind: str, subject_id: int) -> Feedback | None:
    return db.session.scalar(
        select(Feedback).where(
            Feedback.member_id == member_id,
            Feedback.subject_kind == subject_kind,
            Feedback.subject_id == subject_id,
        )
    )


def rated_ids(member_id: int, subject_kind: str, subject_ids: list[int]) -> set[int]:
    """Which of ``subject_ids`` the member already rated."""
    if not subject_ids:
        return set()
    return set(
        db.session.scalars(
            select(Feedback.subject_id).where(
                Feedback.member_id == member_id,
                Feedback.subject_kind == subject_kind,
                Feedback.subject_id.in_(subject_ids),
            )
        )
    )


# --------------------------------------------------------------------- appointments


def rateable_appointment(member: User, appointment_id: int):
    """The member's own attended appointment, or a domain error: someone else's (or none)
    -> NotFound; not attended -> Conflict."""
    from wellness.booking.models import Appointment, AppointmentStatus  # noqa: PLC0415

    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.user_id != member.id:
        raise NotFound(str(_l("The appointment was not found.")))
    if appointment.status != AppointmentStatus.ATTENDED.value:
        raise Conflict(
            str(_l("You can rate a session once you have attended it.")),
            {"appointment": "not_attended"},
        )
    return appointment


def rate_appointment(
    member: User,
    appointment_id: int,
    score: int,
    comment: str | None,
    now: datetime | None = None,
) -> Feedback:
    """The use case: check eligibility, record, commit."""
    appointment = rateable_appointment(member, appointment_id)
    rating = record(
        member.id,
        SubjectKind.APPOINTMENT.value,
        appointment.id,
        score,
        comment,
        now=now,
        counselor_id=appointment.counselor_id,
    )
    db.session.commit()
    return rating
