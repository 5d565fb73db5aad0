"""The HTTP API, one blueprint per area (registered by services.web.app)."""
