"""Every table on ``Base.metadata``: imported by the engine set-up and the migrations."""
from services.models import (  # noqa: F401  (each import maps its tables)
    amendments, audit, jobs, mail, people, registration, registry, reminders, reports, requests, sessions, workflow,
)
from services.models.base import Base

__all__ = ["Base"]
