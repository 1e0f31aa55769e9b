"""Signals, responses and the taxonomy (reference data) they are classified with."""
