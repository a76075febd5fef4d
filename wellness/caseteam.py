"""Who is on a person's case team, as the feature packages know it.

A package that gives counsellors responsibility for a person contributes
``wellness.<pkg>.caseteam.counselors_for(person_id) -> set[int]`` (risk: the holder of the
person's claimed flag; messaging: holders of their open conversations; care: the counsellor
of an open care episode). Messaging asks here who may read a member's threads, without
importing the packages that know.
"""

from __future__ import annotations

from wellness.packages import feature_modules


def counselors_for(person_id: int) -> set[int]:
    """The ids of the counsellors on ``person_id``'s case in any package."""
    ids: set[int] = set()
    for module in feature_modules("wellness.{pkg}.caseteam"):
        ids |= set(module.counselors_for(person_id))
    return ids


def on_case(counselor_id: int, person_id: int) -> bool:
    return counselor_id in counselors_for(person_id)
