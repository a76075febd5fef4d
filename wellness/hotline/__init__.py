"""24-hour psychological hotline: crisis numbers (public, no database), the on-call roster
with coverage warnings, the on-duty console for call records, crisis interventions that
raise risk flags in the same transaction, supervisor figures and retention (>= 3 years).
"""
