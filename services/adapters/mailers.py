"""Where email goes: an SMTP server when one is configured, else .eml files under var/mail."""
from __future__ import annotations

import os
import smtplib
import socket
import time
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, Iterator


class PermanentMailError(Exception):
    """The server refused for good (5xx): retrying will not help."""


class TemporaryMailError(Exception):
    """Connection refused, timeout, 4xx: retry later."""


# One message's whole SMTP exchange (MAIL, RCPT, DATA and the reply) ends within this many seconds,
# however slowly a server drips its answers: the mail relay's stuck timeout counts on it.
MESSAGE_TIME_LIMIT = 20.0


class _TimedSMTP(smtplib.SMTP):
    """Each wait on the socket is cut to what is left of the current message's time."""

    deadline: float | None = None

    def _clip(self) -> None:
        if self.sock is None:
            return
        if self.deadline is None:
            self.sock.settimeout(self.timeout)
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout(f"the message took longer than {MESSAGE_TIME_LIMIT:.0f} s")
        self.sock.settimeout(min(self.timeout, left))

    def send(self, s):
        self._clip()
        return super().send(s)

    def getreply(self):
        self._clip()
        return super().getreply()


class SmtpMailer:
    """SMTP delivery. With ``keep_open`` (the worker) the connection outlives a session: the next
    batch reuses it after a NOOP, and a connection the server closed is replaced by a new one."""

    def __init__(self, host: str, port: int, user: str | None = None, password: str | None = None,
                 timeout: float = 10.0, keep_open: bool = False):
        self.host, self.port, self.user, self.password, self.timeout = host, port, user, password, timeout
        self.keep_open = keep_open
        self.connects = 0  # connections opened by this process: how often the kept one was not reusable
        self._kept: tuple[int, smtplib.SMTP] | None = None

    def send(self, message: EmailMessage) -> None:
        with self.session() as send:
            send(message)

    def _connect(self) -> smtplib.SMTP:
        try:
            smtp = _TimedSMTP(self.host, self.port, timeout=self.timeout)
            if self.user:
                smtp.starttls()
                smtp.login(self.user, self.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise _classify(exc) from exc
        self.connects += 1
        return smtp

    def _reuse(self) -> smtplib.SMTP | None:
        """The kept connection if the server still answers on it (never one from before a fork)."""
        kept, self._kept = self._kept, None
        if kept is None:
            return None
        pid, smtp = kept
        if pid != os.getpid():
            return None  # the parent's socket: leave it to the parent
        try:
            if smtp.noop()[0] == 250:
                return smtp
        except (OSError, smtplib.SMTPException):
            pass
        _close(smtp)
        return None

    def close(self) -> None:
        """Quit the kept connection (at the worker's exit)."""
        kept, self._kept = self._kept, None
        if kept is not None and kept[0] == os.getpid():
            _close(kept[1], polite=True)

    @contextmanager
    def session(self) -> Iterator[Callable[[EmailMessage], None]]:
        """One connection for several messages (a batch's emails go out together).

        A message whose exchange broke the connection fails (its outcome is unknown: it is
        retried, at most one duplicate); the next message gets a new connection, once per session.
        """
        state = {"smtp": (self._reuse() if self.keep_open else None) or self._connect(),
                 "broken": False, "reconnected": False}

        def send(message: EmailMessage) -> None:
            if state["broken"]:
                if state["reconnected"]:
                    raise TemporaryMailError("the connection was lost again")
                state["reconnected"] = True
                _close(state["smtp"])
                state["smtp"] = self._connect()
                state["broken"] = False
            smtp = state["smtp"]
            smtp.deadline = time.monotonic() + MESSAGE_TIME_LIMIT
            try:
                smtp.send_message(message)
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                state["broken"] = True
                raise _classify(exc) from exc
            except smtplib.SMTPException as exc:
                raise _classify(exc) from exc
            except ValueError as exc:  # smtplib's own refusal to write this message (encoding, headers)
                raise PermanentMailError(f"письмо не удалось передать: {exc}") from exc
            finally:
                smtp.deadline = None

        try:
            yield send
        finally:
            smtp = state["smtp"]
            if self.keep_open and not state["broken"] and smtp.sock is not None:
                self._kept = (os.getpid(), smtp)
            else:
                _close(smtp, polite=True)


def _close(smtp: smtplib.SMTP, polite: bool = False) -> None:
    try:
        if polite:
            smtp.quit()
            return
    except (OSError, smtplib.SMTPException):
        pass
    smtp.close()


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # e.g. a non-ASCII address, no SMTPUTF8 there
        return PermanentMailError(f"сервер не поддерживает: {exc}")
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
