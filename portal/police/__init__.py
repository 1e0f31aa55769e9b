"""The police and OM view: follow-up on signals, acute signals, city-wide aggregates."""
