"""Leaf layer: database helpers, errors, sanitising, input hygiene, internationalisation."""
