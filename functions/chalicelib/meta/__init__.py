"""Health and the OpenAPI description."""
