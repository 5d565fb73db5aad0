"""The password-setting link goes out through real SMTP (aiosmtpd), through the API and the CLI-less
path an administrator uses; a failed email is retried from the mail log once the server is back."""
from __future__ import annotations

import re
from email.header import decode_header, make_header

from sqlalchemy import select

from services.models.mail import OutgoingEmail
from services.models.registry import User
from tests.conftest import make_services, make_settings, seed


def _body(message) -> str:
    part = message.get_body(preferencelist=("plain",)) if hasattr(message, "get_body") else None
    if part is None:
        for p in message.walk():
            if p.get_content_type() == "text/plain":
                return p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8")
    return part.get_content()


def test_admin_api_emails_a_one_time_link_over_smtp_and_it_sets_the_password(tmp_path, smtp):
    from services.web.app import create_app

    settings = make_settings(tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port),
                             INTERDEPT_BASE_URL="https://interdept.example")
    services = make_services(settings)
    try:
        tokens = seed(services)
        app = create_app(services=services, test_config={"TESTING": True})
        client = app.test_client()
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        r = client.post("/api/v1/admin/users", headers=admin, json={
            "email": "smtp.person@kotovsk.example", "name": "Почтова П. П.", "department": "mfc",
            "roles": ["co_executor"], "send_password_link": True})
        assert r.status_code == 201, r.get_json()
        user_id = r.get_json()["id"]
        assert r.get_json()["has_password"] is False
        (message,) = [m for m in smtp.messages if m["To"] == "smtp.person@kotovsk.example"]
        assert str(make_header(decode_header(message["Subject"]))) == \
            "Установка пароля для входа в сервис межведомственного взаимодействия"
        text = _body(message)
        assert "Здравствуйте, Почтова П. П.!" in text
        (link,) = re.findall(r"https://interdept\.example/password/set/[A-Za-z0-9_\-]+", text)

        # A second link by the API ends the first one.
        r = client.post(f"/api/v1/admin/users/{user_id}/password-link", headers=admin)
        assert r.status_code == 202
        assert len([m for m in smtp.messages if m["To"] == "smtp.person@kotovsk.example"]) == 2
        later = re.findall(r"https://interdept\.example/password/set/[A-Za-z0-9_\-]+", _body(smtp.messages[-1]))[0]
        path = link.replace("https://interdept.example", "")
        assert client.get(path).status_code == 410
        path = later.replace("https://interdept.example", "")
        page = client.get(path).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = client.post(path, data={"csrf_token": token, "password": "smtp-person-1",
                                    "password_repeat": "smtp-person-1"})
        assert r.status_code == 302
        with services.uow() as uow:
            assert uow.session.get(User, user_id).password_hash is not None
        # Non-admins may not send links.
        r = client.post(f"/api/v1/admin/users/{user_id}/password-link",
                        headers={"Authorization": f"Bearer {tokens['it']}"})
        assert r.status_code == 403
    finally:
        services.dispose()


def test_a_failed_email_is_retried_from_the_api_once_smtp_is_back(tmp_path, smtp):
    from services.web.app import create_app

    settings = make_settings(tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port))
    services = make_services(settings)
    try:
        tokens = seed(services)
        app = create_app(services=services, test_config={"TESTING": True})
        client = app.test_client()
        with services.uow() as uow:
            user = uow.session.execute(select(User).where(User.email == "mfc@kotovsk.example")).scalar_one()
            from services.people import issue_password_link

            issue_password_link(uow, services, user)
            uow.commit()
        with services.uow() as uow:  # as the relay leaves it once the retries ran out
            email = uow.session.execute(select(OutgoingEmail)).scalar_one()
            email.state, email.last_error = "failed", "SMTP-сервер недоступен"
            uow.commit()
            email_id = email.id
        before = len(smtp.messages)
        r = client.post(f"/api/v1/mail/{email_id}/retry", headers={"Authorization": f"Bearer {tokens['it']}"})
        assert r.status_code == 403
        r = client.post(f"/api/v1/mail/{email_id}/retry", headers={"Authorization": f"Bearer {tokens['admin']}"})
        assert r.status_code == 202 and r.get_json() == {"id": email_id, "state": "sent"}
        assert len(smtp.messages) == before + 1 and smtp.messages[-1]["To"] == "mfc@kotovsk.example"
        r = client.post(f"/api/v1/mail/{email_id}/retry", headers={"Authorization": f"Bearer {tokens['admin']}"})
        assert r.status_code == 409
        assert len(smtp.messages) == before + 1
    finally:
        services.dispose()
