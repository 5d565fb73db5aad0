"""Every table on ``Base.metadata``: imported by the engine set-up and the migrations."""
from services.models import (  # noqa: F401  (each import maps its tables)
    amendments, audit, discussion, jobs, mail, people, registration, registry, reminders, reports, requests,
    saved_filters, sessions, workflow,
)
from services.models.base import Base

__all__ = ["Base"]
