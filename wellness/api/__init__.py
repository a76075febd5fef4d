"""JSON API v1 for the mobile app: bearer tokens, one error format, OpenAPI from the code."""
