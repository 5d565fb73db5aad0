"""Every error is JSON: {"error": {"code", "message", "fields"?}}; never a traceback."""
from __future__ import annotations

import logging

from flask import jsonify
from flask_smorest import Api
from marshmallow import INCLUDE, Schema
from marshmallow import fields as ma_fields
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from services.web.api.contract import document_operations
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


def http_error_response(error: HTTPException):
    """Werkzeug/webargs errors in our envelope, keeping the fields webargs found."""
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


class ErrorBody(Schema):
    class Meta:
        unknown = INCLUDE  # a refusal may add details, e.g. allowed_events

    code = ma_fields.String(required=True)
    message = ma_fields.String(required=True)
    fields = ma_fields.Dict()


class ErrorEnvelope(Schema):
    """What every error response is, so the spec documents the body clients really get."""

    error = ma_fields.Nested(ErrorBody, required=True)


class JsonErrorApi(Api):
    """flask-smorest's Api with our error envelope, and every operation's contract completed."""

    ERROR_SCHEMA = ErrorEnvelope

    def handle_http_exception(self, error: HTTPException):
        return http_error_response(error)

    def register_blueprint(self, blp, **options):
        super().register_blueprint(blp, **options)
        document_operations(self.spec._paths)


# Integer ids are PostgreSQL integers; a larger number in a URL names nothing (and must not reach the database).
_ID_MIN, _ID_MAX = -(2 ** 31), 2 ** 31 - 1


def register_error_handlers(app) -> None:
    @app.before_request
    def _ids_in_range():
        from flask import request

        for value in (request.view_args or {}).values():
            if isinstance(value, int) and not _ID_MIN <= value <= _ID_MAX:
                return error_response(404, "not_found", MESSAGES[404])
        return None

    @app.errorhandler(DataError)
    def _out_of_range(error):
        # A value the database cannot store (e.g. a number too large for its column) is the caller's error.
        log.warning("value refused by the database: %s", type(getattr(error, "orig", error)).__name__)
        return error_response(422, "invalid", "Значение вне допустимого диапазона.")

    @app.errorhandler(Refusal)
    def _refusal(error: Refusal):
        response = error_response(error.status, error.code, error.message, error.fields, **error.details)
        if error.details.get("retry_after") is not None:
            response.headers["Retry-After"] = str(int(error.details["retry_after"]))
        return response

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
        # Registered after flask-smorest's own handler, so it must keep webargs' fields too.
        return http_error_response(error)

    @app.errorhandler(Exception)
    def _unexpected(error):
        log.exception("unhandled error")
        return error_response(500, "internal", "Внутренняя ошибка сервера.")
