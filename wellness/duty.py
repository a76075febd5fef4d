"""Who is on duty right now, as the feature packages know it.

A package that keeps a roster contributes ``wellness.<pkg>.duty.on_duty(now) -> set[int]``
(user ids); this collects them so that a package can ask without importing another
(risk's auto-assignment asks here, never the hotline directly).
"""

from __future__ import annotations

from datetime import datetime

from wellness.packages import feature_modules


def on_duty(now: datetime) -> set[int]:
    """The ids of the users on duty at ``now`` (aware UTC) in any package's roster."""
    ids: set[int] = set()
    for module in feature_modules("wellness.{pkg}.duty"):
        ids |= set(module.on_duty(now))
    return ids
