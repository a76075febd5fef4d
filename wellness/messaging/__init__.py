"""Ask a counsellor: members' conversations with the counselling team (issue 14)."""
