"""Risk flags and the counsellor queue: claim, contact, resolve, escalate, follow up.

risk stays generic: a flag records its source ("assessment", "hotline", "manual",
"deterioration") and the source's id, so risk never imports the packages that feed it.
"""
