"""Band order and "moderate or worse", defined once (pure: no Flask request, no database).

"Moderate or worse" is a result at severity rank 2 or above on a scale with more than two
bands (PHQ-9 moderate, moderately severe, severe; WHO-5 likely depression...), or the
positive band of a two-band screen (PHQ-2/GAD-2 positive, PCL-5 probable PTSD). The rank
comes from ``wellness.assessments.services.severity_rank`` (mildest band = 0, whatever the
direction of the scale), the same rule that sets the re-screening interval.
"""

from __future__ import annotations

from wellness.assessments.instruments import Instrument


def _rank(inst: Instrument, band: str) -> int:
    from wellness.assessments.services import severity_rank

    return severity_rank(inst, band)


def bands_mildest_first(inst: Instrument) -> list[str]:
    return sorted((b.code for b in inst.bands), key=lambda code: _rank(inst, code))


def is_moderate_or_worse(inst: Instrument, band: str) -> bool:
    rank = _rank(inst, band)
    return rank >= 1 if len(inst.bands) == 2 else rank >= 2


def moderate_or_worse_bands(inst: Instrument) -> list[str]:
    return [code for code in bands_mildest_first(inst) if is_moderate_or_worse(inst, code)]
