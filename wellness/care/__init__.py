"""Care plans: episodes with goals, a booked session series, repeated measures, and
assigned questionnaires."""
