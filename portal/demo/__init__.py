"""Almere demo data: real districts and non-school organisations, fictional schools, boards and people."""
