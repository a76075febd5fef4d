"""Self-assessment use cases: submit (score, store, route), read own results, history,
re-screening reminders, exports."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError

from wellness import audit
from wellness.assessments.instruments import (
    Instrument,
    InvalidAnswers,
    UnknownInstrument,
    get_instrument,
    list_instruments,
    normalize_lang,
    reliable_change,
)
from wellness.assessments.models import AssessmentResponse
from wellness.auth import services as auth_services
from wellness.auth.models import User
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted
from wellness.extensions import db
from wellness.notify import services as notify
from wellness.risk import services as risk_services


class ConsentRequired(NotPermitted):
    code = "consent_required"


class AlreadySubmitted(Conflict):
    code = "already_submitted"

    def __init__(self, message: str, response_id: int) -> None:
        super().__init__(message, {"submission_key": "used"})
        self.response_id = response_id


@dataclass(frozen=True)
class Submitted:
    response: AssessmentResponse
    instrument: Instrument
    deteriorated: bool


def instrument_or_404(code: str) -> Instrument:
    try:
        return get_instrument(code)
    except UnknownInstrument:
        raise NotFound(
            str(_l("There is no questionnaire with this code.")), {"instrument": "unknown"}
        ) from None


def available_instruments(lang: str) -> list[Instrument]:
    """Instruments offered to members in ``lang``.

    An instrument whose translation into ``lang`` has not been verified against a published
    version is not offered in that language (we never show a home-made translation).
    """
    return [inst for inst in list_instruments() if inst.translation_verified(lang)]


def new_submission_key() -> str:
    return secrets.token_urlsafe(16)


def severity_rank(inst: Instrument, band_code: str) -> int:
    """0 for the mildest band, increasing with severity, whatever the scale's direction."""
    codes = [band.code for band in inst.bands]  # ordered by score
    if inst.higher_is_better:
        codes.reverse()
    return codes.index(band_code)


def rescreen_after(inst: Instrument, band_code: str, risk: bool) -> timedelta:
    days = current_app.config["RESCREEN_DAYS"]
    rank = severity_rank(inst, band_code)
    if risk or rank >= 2 or (rank == 1 and len(inst.bands) == 2):
        return timedelta(days=days["moderate_or_worse"])
    if rank == 1:
        return timedelta(days=days["mild"])
    return timedelta(days=days["minimal"])


def previous_result(user_id: int, code: str) -> AssessmentResponse | None:
    return db.session.scalar(
        select(AssessmentResponse)
        .where(AssessmentResponse.user_id == user_id, AssessmentResponse.instrument == code)
        .order_by(AssessmentResponse.created_at.desc(), AssessmentResponse.id.desc())
        .limit(1)
    )


def submit_assessment(
    user: User,
    code: str,
    answers: object,
    *,
    lang: str = "zh",
    submission_key: str | None = None,
    now: datetime | None = None,
) -> Submitted:
    """Score, store and route one questionnaire. One commit: the response, its risk flag,
    its audit entry and any notification stand or fall together."""
    now = now or utcnow()
    inst = instrument_or_404(code)
    if not auth_services.has_consent(user):
        raise ConsentRequired(
            str(
                _l(
                    "Please read and accept the consent for sensitive personal information "
                    "before your first self-test."
                )
            ),
            {"consent": "required"},
        )
    try:
        result = inst.score(answers)
    except InvalidAnswers as error:
        field = f"q{error.item}" if error.item else "answers"
        raise InvalidInput(invalid_answers_message(inst, error), {field: error.reason}) from None
    if submission_key is not None:
        used = db.session.scalar(
            select(AssessmentResponse.id).where(
                AssessmentResponse.user_id == user.id,
                AssessmentResponse.submission_key == submission_key,
            )
        )
        if used:
            raise AlreadySubmitted(
                str(_l("This questionnaire was already submitted; here is its result.")), used
            )
    previous = previous_result(user.id, inst.code)
    response = AssessmentResponse(
        user_id=user.id,
        instrument=inst.code,
        instrument_version=inst.version,
        language=normalize_lang(lang),
        answers=list(result.answers),
        total=result.total,
        percent=result.percent,
        band=result.band,
        risk=result.risk,
        level=result.level,
        critical_items=list(result.critical_items),
        rule=result.rule,
        submission_key=submission_key,
        created_at=now,
        org_unit_id=user.org_unit_id,
        rescreen_due_at=now + rescreen_after(inst, result.band, result.risk),
    )
    db.session.add(response)
    try:
        db.session.flush()
    except IntegrityError:  # the same key submitted twice at the same moment
        db.session.rollback()
        raise AlreadySubmitted(
            str(_l("This questionnaire was already submitted; here is its result.")),
            previous_result(user.id, inst.code).id,
        ) from None
    if result.risk:
        risk_services.raise_flag(
            user.id,
            source="assessment",
            source_id=response.id,
            level=result.level,
            rule=f"{inst.code}:{result.rule}",
            now=now,
        )
    deteriorated = False
    if previous is not None and reliable_change(inst, previous.total, result.total) == "worse":
        deteriorated = True
        risk_services.raise_flag(
            user.id,
            source="deterioration",
            source_id=response.id,
            level="elevated",
            rule=f"{inst.code}:reliable_worsening:{previous.total}->{result.total}",
            now=now,
        )
    audit.record(user, "assessment.submit", response, {"instrument": inst.code})
    db.session.commit()
    return Submitted(response=response, instrument=inst, deteriorated=deteriorated)


def invalid_answers_message(inst: Instrument, error: InvalidAnswers) -> str:
    if error.reason == "wrong_count":
        return _(
            "%(name)s needs an answer to each of its %(n)s questions.",
            name=inst.short_name,
            n=inst.item_count,
        )
    if error.item:
        return _("Question %(n)s: choose one of the answers shown.", n=error.item)
    return _("The answers could not be read. Please answer every question.")


def get_own_response(user: User, response_id: int) -> AssessmentResponse:
    response = db.session.get(AssessmentResponse, response_id)
    if response is None or response.user_id != user.id:
        raise NotFound(str(_l("No such result.")))
    return response


def responses_for(user_id: int, code: str | None = None, limit: int | None = None):
    stmt = select(AssessmentResponse).where(AssessmentResponse.user_id == user_id)
    if code:
        stmt = stmt.where(AssessmentResponse.instrument == code)
    stmt = stmt.order_by(AssessmentResponse.created_at.desc(), AssessmentResponse.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def responses_stmt(user_id: int):
    return (
        select(AssessmentResponse)
        .where(AssessmentResponse.user_id == user_id)
        .order_by(AssessmentResponse.created_at.desc(), AssessmentResponse.id.desc())
    )


def latest_by_instrument(user_id: int) -> dict[str, AssessmentResponse]:
    latest: dict[str, AssessmentResponse] = {}
    for response in responses_for(user_id):
        latest.setdefault(response.instrument, response)
    return latest


def history_points(user_id: int, code: str) -> list[AssessmentResponse]:
    return list(reversed(responses_for(user_id, code, limit=200)))


def data_version(user_id: int) -> tuple[int, int]:
    """Changes whenever the user's results change (for chart caching)."""
    row = db.session.execute(
        select(func.count(AssessmentResponse.id), func.max(AssessmentResponse.id)).where(
            AssessmentResponse.user_id == user_id
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


# ------------------------------------------------------------------ re-screening reminders


def send_rescreen_reminders(now: datetime | None = None, limit: int = 500) -> int:
    """Remind members whose latest result on an instrument is due for a re-screen.

    Each response is reminded at most once: the row is claimed with a conditional UPDATE
    (safe with two schedulers), and the outbox dedupe key is unique as well.
    """
    now = now or utcnow()
    later = AssessmentResponse.__table__.alias("later")
    due = db.session.scalars(
        select(AssessmentResponse)
        .where(
            AssessmentResponse.rescreen_due_at <= now,
            AssessmentResponse.rescreen_reminded_at.is_(None),
            ~select(later.c.id)
            .where(
                and_(
                    later.c.user_id == AssessmentResponse.user_id,
                    later.c.instrument == AssessmentResponse.instrument,
                    later.c.created_at > AssessmentResponse.created_at,
                )
            )
            .exists(),
        )
        .order_by(AssessmentResponse.rescreen_due_at)
        .limit(limit)
    ).all()
    sent = 0
    for response in due:
        claimed = db.session.execute(
            update(AssessmentResponse)
            .where(
                AssessmentResponse.id == response.id,
                AssessmentResponse.rescreen_reminded_at.is_(None),
            )
            .values(rescreen_reminded_at=now)
        ).rowcount
        if not claimed:
            continue
        user = db.session.get(User, response.user_id)
        if user is None or not user.active:
            continue
        inst = get_instrument(response.instrument)
        lang = user.locale or "zh"
        notify.queue(
            user,
            subject=reminder_subject(inst, lang),
            body=reminder_body(inst, lang),
            link=f"/assessments/{inst.code}",
            dedupe_key=f"rescreen:{response.id}",
            external=False,
            now=now,
        )
        sent += 1
    db.session.commit()
    return sent


def reminder_subject(inst: Instrument, lang: str) -> str:
    if lang == "en":
        return f"Time for a check-in: {inst.text('name', 'en')}"
    return f"该做一次复测了：{inst.text('name', 'zh')}"


def reminder_body(inst: Instrument, lang: str) -> str:
    if lang == "en":
        return (
            f"It has been a while since your last {inst.short_name}. Taking it again takes "
            f"about {inst.minutes} minutes and shows how things have changed."
        )
    return (
        f"距离您上次填写{inst.short_name}已经有一段时间了。再做一次大约需要"
        f"{inst.minutes}分钟，可以看看近来的变化。"
    )
