"""A user's saved list filters: a name and the list's query string, shown as links above the list."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, UTCDateTime, utcnow


class SavedFilter(Base):
    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "list_kind", "name", name="uq_saved_filters_user_list_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    list_kind: Mapped[str] = mapped_column(String(16))  # requests, reports, amendments
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000))  # the list's query string, without page
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
