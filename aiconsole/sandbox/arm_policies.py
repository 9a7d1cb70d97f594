"""Policies at service, product, API and operation scope (filled in below)."""

ROUTES: list = []
