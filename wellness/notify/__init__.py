"""Notification outbox: queue in the use case's transaction, deliver from a scheduler job."""
