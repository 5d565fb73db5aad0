"""The tables, one module per area; ``services.models.all`` imports them all onto Base.metadata."""
