"""Accounts, roles, login, registration, consent and org units."""
