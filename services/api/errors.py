"""Every error is JSON: {"error": {"code", "message", "fields"?}}; never a traceback."""
from __future__ import annotations

import logging

from flask import jsonify
from flask_smorest import Api
from sqlalchemy.exc import OperationalError, InterfaceError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from workflows.core import Refusal

log = logging.getLogger(__name__)

MESSAGES = {
    400: "Некорректный запрос.",
    401: "Требуется авторизация: заголовок Authorization: Bearer <токен>.",
    403: "Доступ запрещён.",
    404: "Не найдено.",
    405: "Метод не поддерживается.",
    409: "Конфликт с текущим состоянием.",
    413: "Слишком большой запрос.",
    415: "Неподдерживаемый тип содержимого.",
    422: "Данные не прошли проверку.",
    429: "Слишком много запросов.",
}

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests"}


def error_response(status: int, code: str, message: str, fields=None, **extra):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update({k: v for k, v in extra.items() if v is not None})
    response = jsonify({"error": body})
    response.status_code = status
    return response


def _fields_from_webargs(data) -> dict | None:
    messages = (data or {}).get("messages")
    if not isinstance(messages, dict):
        return None
    fields = {}
    for location, value in messages.items():
        if isinstance(value, dict):
            fields.update(value)
        else:
            fields[location] = value
    return fields or None


class JsonErrorApi(Api):
    """flask-smorest's Api with our error envelope."""

    def handle_http_exception(self, error: HTTPException):
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        fields = _fields_from_webargs(data)
        message = MESSAGES.get(status, error.description or "Ошибка.")
        if status == 400 and fields and any("json" in str(k).lower() or "Invalid JSON" in str(v) for k, v in fields.items()):
            message = "Тело запроса не является корректным JSON."
        if status == 422 and fields:
            message = "Данные не прошли проверку: " + ", ".join(sorted(map(str, fields)))
        response = error_response(status, CODES.get(status, "error"), message, fields)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response


def register_error_handlers(app) -> None:
    @app.errorhandler(Refusal)
    def _refusal(error: Refusal):
        return error_response(error.status, error.code, error.message, error.fields, **error.details)

    @app.errorhandler(StaleDataError)
    def _stale(_error):
        return error_response(409, "stale", "Запись изменена другим пользователем; обновите и повторите.")

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _db_down(error):
        log.error("database unavailable: %s", type(error).__name__)
        response = error_response(503, "unavailable", "База данных временно недоступна; повторите позже.")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        return error_response(status, CODES.get(status, "error"), MESSAGES.get(status, error.description or ""))

    @app.errorhandler(Exception)
    def _unexpected(error):
        log.exception("unhandled error")
        return error_response(500, "internal", "Внутренняя ошибка сервера.")
