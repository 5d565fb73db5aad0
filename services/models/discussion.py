"""Discussion on any item: its comments, its files and who follows it.

An item is a request, a report or an amendment, named by ``item_kind`` and ``item_id`` (no foreign
key: the three live in tables of their own, and a row here never outlives its item, which is never
deleted).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.models.base import Base, UTCDateTime, utcnow
from services.models.registry import User

ITEM_KINDS = ("request", "report", "amendment")


class Comment(Base):
    """A remark on an item, optionally pinned to a point of it (a field, a table cell, a change-set
    line): ``ref`` is that point's key, ``ref_label`` the words shown for it when it was written."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_item", "item_kind", "item_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ref_label: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class ItemAttachment(Base):
    """A file on a report or an amendment (requests keep theirs in ``attachments``): the bytes live
    under the uploads folder, named by checksum, as for requests."""

    __tablename__ = "item_attachments"
    __table_args__ = (Index("ix_item_attachments_item", "item_kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"), nullable=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Watcher(Base):
    """A user who follows an item and gets its events' emails, as its parties do."""

    __tablename__ = "watchers"
    __table_args__ = (
        UniqueConstraint("item_kind", "item_id", "user_id", name="uq_watchers_item_user"),
        Index("ix_watchers_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
