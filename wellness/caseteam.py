"""Who is on a person's case. Core and generic, like ``timeline`` and ``privacy``: each
package that gives a counsellor a standing relation to a person (holding their risk case,
their care episode, their conversation) has a ``caseteam.py`` exposing
``counselors_for(person_id) -> set[int]``; access checks ask here without importing the
packages that answer."""

from __future__ import annotations


def counselors_for(person_id: int) -> set[int]:
    from wellness.packages import feature_modules

    team: set[int] = set()
    for module in feature_modules("wellness.{pkg}.caseteam"):
        team |= module.counselors_for(person_id)
    return team


def on_case(counselor_id: int, person_id: int) -> bool:
    return counselor_id in counselors_for(person_id)
