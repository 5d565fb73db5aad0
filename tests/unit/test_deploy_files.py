"""The production image and the compose stack, read as an operator would.

No Docker engine runs on the development machines or in CI, so the files are checked here:
the image installs from the lock file, runs as a non-root user with the Cyrillic font and a health
check; every long-running compose service has a health check and a restart policy, every image tag is
pinned, and the stack creates no demo accounts unless asked.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
ONE_OFF = {"migrate"}


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _runtime_stage() -> list[tuple[str, str]]:
    stages, current = [], []
    for op, arg in _instructions(DOCKERFILE):
        if op == "FROM":
            current = []
            stages.append(current)
        current.append((op, arg))
    return stages[-1]


def test_image_is_multi_stage_and_installs_from_the_lock_file():
    froms = [arg for op, arg in _instructions(DOCKERFILE) if op == "FROM"]
    assert len(froms) >= 2, froms
    assert all(re.search(r":\d+\.\d+\.\d+", f) for f in froms), f"unpinned base image: {froms}"
    runs = " ".join(arg for op, arg in _instructions(DOCKERFILE) if op == "RUN")
    assert "--require-hashes -r requirements.lock" in runs
    assert "--no-deps" in runs


def test_runtime_runs_as_a_non_root_user_with_the_font_and_a_health_check():
    stage = _runtime_stage()
    users = [arg.strip() for op, arg in stage if op == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    runs = " ".join(arg for op, arg in stage if op == "RUN")
    assert "fonts-dejavu-core" in runs
    checks = [arg for op, arg in stage if op == "HEALTHCHECK"]
    assert checks and "/healthz" in checks[0]


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for name in (".git", ".venv", "var"):
        assert name in ignored, name


def test_every_long_running_service_has_a_health_check_and_a_restart_policy():
    for name, service in COMPOSE["services"].items():
        if name in ONE_OFF:
            assert service.get("restart") == "no", name
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name}: no health check"
        assert service.get("restart") in ("unless-stopped", "always", "on-failure"), f"{name}: no restart policy"
    assert "inspect ping" in str(COMPOSE["services"]["worker"]["healthcheck"]["test"])
    assert "/healthz" in str(COMPOSE["services"]["web"]["healthcheck"]["test"])


def test_every_image_tag_is_pinned():
    for name, service in COMPOSE["services"].items():
        image = service.get("image")
        if image is None:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: floating tag {image!r}"


def test_the_stack_seeds_no_demo_users_unless_asked():
    env = COMPOSE["services"]["migrate"]["environment"]
    assert str(env.get("INTERDEPT_DEMO", "")).endswith(":-0}"), env.get("INTERDEPT_DEMO")
    command = " ".join(COMPOSE["services"]["migrate"]["command"])
    assert "--demo-users" not in command.replace("--no-demo-users", "")


def test_seed_creates_demo_users_only_with_interdept_demo(tmp_path):
    from click.testing import CliRunner

    from services.cli import main

    env = {"INTERDEPT_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path}/d.sqlite3",
           "INTERDEPT_DEMO": "0"}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    plain = runner.invoke(main, ["seed", "--no-reports"], env=env)
    assert plain.exit_code == 0, plain.output
    assert "admin@kotovsk.example" not in plain.output
    demo = runner.invoke(main, ["seed", "--no-reports"], env={**env, "INTERDEPT_DEMO": "1"})
    assert demo.exit_code == 0, demo.output
    assert "admin@kotovsk.example" in demo.output


def test_web_and_worker_can_be_scaled_out():
    """`docker compose up --scale web=3 --scale worker=4`: no pinned container name or host name, and web
    publishes a range of host ports (one fixed host port would stop a second web container)."""
    for name in ("web", "worker"):
        service = COMPOSE["services"][name]
        assert "container_name" not in service and "hostname" not in service, name
    for mapping in COMPOSE["services"]["web"].get("ports", []):
        resolved = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(mapping))  # the default of ${VAR:-default}
        host = resolved.rsplit(":", 1)[0]
        assert re.fullmatch(r"([\d.]+:)?\d+-\d+", host), f"web publishes one fixed host port: {mapping!r}"
    assert "container_name" not in COMPOSE["services"]["beat"]
