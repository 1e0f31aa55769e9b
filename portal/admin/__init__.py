"""Functional administration: organisations, districts and rooms, users and roles, the taxonomy."""
