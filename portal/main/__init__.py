"""Home page, health check, language switch and error pages."""
