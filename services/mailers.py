"""Where email goes: an SMTP server when one is configured, else .eml files under var/mail."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path


class PermanentMailError(Exception):
    """The server refused for good (5xx): retrying will not help."""


class TemporaryMailError(Exception):
    """Connection refused, timeout, 4xx: retry later."""


class SmtpMailer:
    def __init__(self, host: str, port: int, user: str | None = None, password: str | None = None,
                 timeout: float = 10.0):
        self.host, self.port, self.user, self.password, self.timeout = host, port, user, password, timeout

    def send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.user:
                    smtp.starttls()
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentMailError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise TemporaryMailError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(500 <= c < 600 for c in codes):
                raise PermanentMailError(str(exc.recipients)) from exc
            raise TemporaryMailError(str(exc.recipients)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryMailError(repr(exc)) from exc


class FileMailer:
    """The embedded default: each message is written once, named by its Message-ID."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = message["Message-ID"].strip("<>").replace("/", "_").replace("@", "_at_")
        path = self.directory / f"{name}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(message))
        tmp.replace(path)
