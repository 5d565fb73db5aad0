"""What every operation of the API promises, in one place: the list envelope, the error
responses, public operations, file media types and the Idempotency-Key header.

Routes declare what only they know (``refuses(blp, 403, 409)``, ``public(blp)``, ``file_response``);
``document_operations`` adds what follows from the operation's shape (a path parameter can name
nothing: 404; a body can be too large: 413; any call can meet a database that is down: 503).
"""
from __future__ import annotations

from http import HTTPStatus

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

MAX_PAGE_SIZE = 200

# flask-smorest registers its ERROR_SCHEMA (errors.ErrorEnvelope) under the class name.
ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}

# What each error status means for a caller of this API (the body is always the error envelope).
ERROR_DESCRIPTIONS = {
    400: "Тело запроса не является корректным JSON.",
    401: "Нет токена, или он недействителен, отозван, истёк; или пользователь отключён.",
    403: "Недостаточно прав для этого действия или объекта.",
    404: "Объект не найден или не виден вызывающему.",
    409: "Действие невозможно в текущем состоянии, запись изменена другим пользователем, "
         "или запрос с этим Idempotency-Key ещё выполняется.",
    413: "Слишком большой запрос или файл.",
    415: "Неподдерживаемый тип содержимого.",
    422: "Данные не прошли проверку: поля и причины в error.fields.",
    429: "Слишком много запросов; повторите после Retry-After секунд.",
    503: "Сервис временно недоступен (база данных или генерация файла); повторите позже.",
}

IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Повтор запроса с тем же ключом и телом вернёт сохранённый ответ, а не выполнит действие "
                   "второй раз (заголовок Idempotent-Replayed: true).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[\x21-\x7e]+$"},
}


def error_response_doc(status: int) -> dict:
    return {"description": ERROR_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {"application/json": {"schema": ERROR_SCHEMA_REF}}}


def refuses(blp, *statuses: int):
    """Document the refusals only the use case knows about (403 by role, 404 not visible, 409 state...)."""
    return blp.doc(responses={str(s): error_response_doc(s) for s in statuses})


def public(blp):
    """An operation anyone may call: no bearer token."""
    return blp.doc(security=[])


def file_response(blp, *media_types: str, description: str, status: int = 200, headers: dict | None = None):
    """A download: the body is the file itself in one of ``media_types``."""
    content = {t: {"schema": {"type": "string", "format": "binary"}} for t in media_types}
    response = {"description": description, "content": content}
    if headers:
        response["headers"] = headers
    return blp.doc(responses={str(status): response})


DISPOSITION_HEADER = {"Content-Disposition": {"description": "attachment; filename=\"…\"",
                                              "schema": {"type": "string"}}}


class PageQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000),
                          metadata={"description": "Номер страницы, с 1"})
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
                               metadata={"description": f"Элементов на странице, не больше {MAX_PAGE_SIZE}"})


class ListQuery(PageQuery):
    """What the three lists (requests, reports, amendments) take besides their own filters: the
    words, part of a registration number, a due range (both ends included) and the order; an
    unknown name is a 422 naming it, like a value no filter offers (the web pages' rule)."""

    class Meta:
        unknown = RAISE

    q = fields.String(load_default=None, validate=validate.Length(max=200))
    number = fields.String(load_default=None, validate=validate.Length(max=64),
                           metadata={"description": "Часть регистрационного номера"})
    overdue = fields.Boolean(load_default=None, allow_none=True)
    due_from = fields.Date(load_default=None, metadata={"description": "Срок не раньше (включительно)"})
    due_to = fields.Date(load_default=None, metadata={"description": "Срок не позже (включительно)"})

    @validates_schema
    def _due_range(self, data, **_):
        if data.get("due_from") and data.get("due_to") and data["due_to"] < data["due_from"]:
            raise ValidationError("Конец срока раньше начала.", field_name="due_to")


def sort_field(values, default: str) -> fields.String:
    return fields.String(load_default=default, validate=validate.OneOf(values), metadata={
        "description": "Столбец порядка, с «-» — по убыванию; при равенстве — по номеру (id)"})


_PAGES: dict[type, type] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The one shape of every list: ``{items, page, page_size, total}``."""
    if item_schema not in _PAGES:
        name = item_schema.__name__.removesuffix("Out") + "Page"
        _PAGES[item_schema] = Schema.from_dict({
            "items": fields.List(fields.Nested(item_schema), required=True),
            "page": fields.Integer(required=True),
            "page_size": fields.Integer(required=True),
            "total": fields.Integer(required=True, metadata={"description": "Всего элементов во всех страницах"}),
        }, name=name)
    return _PAGES[item_schema]


def paginate(items: list, args: dict) -> dict:
    """A list already in memory (histories, the inbox, ...) as one page of the envelope."""
    page, size = args["page"], args["page_size"]
    return {"items": items[(page - 1) * size: page * size], "page": page, "page_size": size, "total": len(items)}


def page(items: list, total: int, args: dict) -> dict:
    return {"items": items, "page": args["page"], "page_size": args["page_size"], "total": total}


_METHODS = {"get", "put", "post", "delete", "patch"}


def document_operations(paths: dict) -> None:
    """Add to every operation the responses and parameters that follow from its shape.

    Idempotent: it runs after each blueprint is registered.
    """
    for path, operations in paths.items():
        path_params = "{" in path
        for method, operation in operations.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            # "default" would cover any status, and so hide an undocumented one from clients and checks.
            responses.pop("default", None)
            needed = {503}
            if operation.get("security") != []:
                needed.add(401)
            params = operation.get("parameters", [])
            if path_params:
                needed.add(404)
            if any(p.get("in") == "query" for p in params if isinstance(p, dict)):
                needed.add(422)
            if "requestBody" in operation:
                needed |= {400, 413, 422}
            if method == "post" and path.startswith("/api/"):
                needed |= {409, 422}
                if not any(isinstance(p, dict) and p.get("name") == "Idempotency-Key" for p in params):
                    operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_PARAMETER))
            for status in sorted(needed):
                key = str(status)
                if key not in responses:
                    responses[key] = error_response_doc(status)
                elif status == 422:
                    # flask-smorest's own 422 points to a component; keep one envelope everywhere.
                    responses[key] = error_response_doc(status)


HistoryEntryOut = Schema.from_dict({
    "event": fields.String(),
    "from": fields.String(allow_none=True),
    "to": fields.String(),
    "actor_id": fields.Integer(allow_none=True),
    "department": fields.String(allow_none=True),
    "role": fields.String(allow_none=True),
    "comment": fields.String(allow_none=True),
    "payload": fields.Raw(allow_none=True),
    "at": fields.String(),
}, name="HistoryEntryOut")


def history_view(rows) -> list[dict]:
    return [{"event": r.event, "from": r.from_state, "to": r.to_state, "actor_id": r.actor_id,
             "department": r.actor_department, "role": r.actor_role, "comment": r.comment,
             "payload": r.payload, "at": r.at.isoformat()} for r in rows]
