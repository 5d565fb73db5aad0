"""Where email goes: an SMTP server when one is configured, else .eml files under var/mail."""
from __future__ import annotations

import smtplib
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, Iterator


class PermanentMailError(Exception):
    """The server refused for good (5xx): retrying will not help."""


class TemporaryMailError(Exception):
    """Connection refused, timeout, 4xx: retry later."""


class SmtpMailer:
    def __init__(self, host: str, port: int, user: str | None = None, password: str | None = None,
                 timeout: float = 10.0):
        self.host, self.port, self.user, self.password, self.timeout = host, port, user, password, timeout

    def send(self, message: EmailMessage) -> None:
        with self.session() as send:
            send(message)

    @contextmanager
    def session(self) -> Iterator[Callable[[EmailMessage], None]]:
        """One connection for several messages (a handler's emails go out together)."""
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.user:
                smtp.starttls()
                smtp.login(self.user, self.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise _classify(exc) from exc

        def send(message: EmailMessage) -> None:
            try:
                smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                raise _classify(exc) from exc

        try:
            yield send
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, smtplib.SMTPResponseException):
        kind = PermanentMailError if 500 <= exc.smtp_code < 600 else TemporaryMailError
        return kind(f"{exc.smtp_code} {exc.smtp_error!r}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        kind = PermanentMailError if codes and all(500 <= c < 600 for c in codes) else TemporaryMailError
        return kind(str(exc.recipients))
    return TemporaryMailError(repr(exc))


class FileMailer:
    """The embedded default: each message is written once, named by its Message-ID."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    @contextmanager
    def session(self) -> Iterator[Callable[[EmailMessage], None]]:
        yield self.send

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = message["Message-ID"].strip("<>").replace("/", "_").replace("@", "_at_")
        path = self.directory / f"{name}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(message))
        tmp.replace(path)
