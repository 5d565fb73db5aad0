"""Links in emails point where ``interdept run``/``web`` serve: INTERDEPT_BASE_URL follows --host/--port."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from config.settings import Settings, served_base_url


@pytest.mark.parametrize("host, port, expected", [
    ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
    ("127.0.0.1", 8765, "http://127.0.0.1:8765"),
    ("0.0.0.0", 9000, "http://127.0.0.1:9000"),
    ("::", 9001, "http://127.0.0.1:9001"),
    ("::1", 9002, "http://[::1]:9002"),
    ("interdept.kotovsk.example", 80, "http://interdept.kotovsk.example:80"),
])
def test_the_served_address_as_a_base_url(host, port, expected):
    assert served_base_url(host, port) == expected


def test_an_explicit_base_url_loses_only_its_trailing_slash():
    assert Settings.from_env({"INTERDEPT_BASE_URL": "https://sed.kotovsk.example/"}).base_url == \
        "https://sed.kotovsk.example"
    assert Settings.from_env({}).base_url == "http://127.0.0.1:8000"


class _RecordingSupervisor:
    """Stands in for the process supervisor: records the environment its children would inherit."""

    seen: list[str | None] = []

    def __init__(self, children, **kwargs):
        import os

        self.children = children
        _RecordingSupervisor.seen.append(os.environ.get("INTERDEPT_BASE_URL"))

    def run(self) -> int:
        return 0


@pytest.mark.parametrize("preset, args, expected", [
    (None, ["--port", "8123"], "http://127.0.0.1:8123"),
    ("", ["--host", "0.0.0.0", "--port", "8124"], "http://127.0.0.1:8124"),
    ("https://sed.kotovsk.example", ["--port", "8125"], "https://sed.kotovsk.example"),
])
def test_run_gives_web_worker_and_beat_the_address_it_serves(monkeypatch, tmp_path, preset, args, expected):
    from services import cli

    monkeypatch.setenv("INTERDEPT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INTERDEPT_BASE_URL", preset or "")  # recorded, so what run() sets is undone after
    if preset is None:
        monkeypatch.delenv("INTERDEPT_BASE_URL")
    monkeypatch.setattr(cli, "Supervisor", _RecordingSupervisor)
    _RecordingSupervisor.seen.clear()
    result = CliRunner().invoke(cli.main, ["run", *args])
    assert result.exit_code == 0, result.output
    assert _RecordingSupervisor.seen == [expected]
    assert f"links in emails point at {expected}" in result.output
