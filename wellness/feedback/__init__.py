"""Members' ratings of the sessions they attended (appointments, conversations, classes)."""
