"""All tables; importing this registers every model on Base.metadata."""
from services.models.base import Base
from services.models import registry, workflow, mail, requests, reports, amendments, reminders, audit, people  # noqa: F401

__all__ = ["Base"]
