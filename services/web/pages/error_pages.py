"""Error pages for people: a wrong link, a refused method or a server fault in the browser gets a page
in Russian with a way back, while the API and the machine endpoints keep the JSON error envelope.

The JSON handlers (``services.web.api.errors``) stay the ones for ``/api/`` and the rest; these wrap
them, so the decision is made in one place, by the path.
"""
from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from services.web.pages.common import current_actor_or_none

log = logging.getLogger(__name__)

# Addresses programs call: they keep the JSON envelope whatever their Accept header says.
MACHINE_PREFIXES = ("/api/", "/openapi", "/metrics", "/healthz", "/readyz", "/docs")

PAGES = {
    400: ("Запрос не понят", "Сервер не смог разобрать запрос. Вернитесь на предыдущую страницу и повторите."),
    403: ("Нет доступа", "У вас нет прав на эту страницу или действие."),
    404: ("Страница не найдена", "Такой страницы нет: возможно, ссылка устарела или в адресе опечатка."),
    405: ("Действие недоступно", "Эта страница не принимает такое действие. Откройте её по ссылке и повторите."),
    409: ("Действие невозможно", "Запись изменилась или находится в другом состоянии; обновите страницу."),
    413: ("Слишком большой запрос", "Форма или файл больше допустимого размера."),
    500: ("Внутренняя ошибка", "На сервере произошла ошибка, изменения не сохранены. Повторите позже; "
                               "если ошибка повторится, сообщите администратору."),
    503: ("Сервис временно недоступен", "База данных временно недоступна; изменения не сохранены. "
                                        "Повторите через несколько минут."),
}


def for_people() -> bool:
    return not request.path.startswith(MACHINE_PREFIXES)


def error_page(status: int):
    title, message = PAGES.get(status, PAGES[500] if status >= 500 else PAGES[400])
    if getattr(g, "web_actor", None) is None:
        g.web_actor = current_actor_or_none()
    return render_template("webui/error.html", title=title, message=message, status=status), status


def init_error_pages(app: Flask) -> None:
    """Wrap the app's JSON handlers for HTTP errors, database outages and unexpected exceptions."""
    handlers = app.error_handler_spec[None][None]
    json_http, json_any = handlers[HTTPException], handlers[Exception]
    json_db = handlers[OperationalError]

    def page_or(json_handler, status_of):
        def handle(error):
            status = status_of(error)
            if not for_people() or status is None or status < 400:
                return json_handler(error)
            if status >= 500 and json_handler is json_any:
                log.exception("unhandled error")
            try:
                return error_page(status)
            except Exception:  # noqa: BLE001 - the page itself failed (e.g. the database is down): the envelope
                log.exception("error page could not be rendered")
                return json_handler(error)
        return handle

    app.register_error_handler(HTTPException, page_or(json_http, lambda e: e.code))
    db_page = page_or(json_db, lambda e: 503)
    app.register_error_handler(OperationalError, db_page)
    app.register_error_handler(InterfaceError, db_page)
    app.register_error_handler(Exception, page_or(json_any, lambda e: 500))
