"""Published public keys and the signatures of decisions: public, so anyone can check them."""
from __future__ import annotations

import re

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services import signing
from services.models.people import DepartmentKey
from services.models.registry import Department
from services.web.api.contract import PageQuery, page_of, paginate, public
from services.web.context import current_services
from workflows.core import NotFound

blp = Blueprint("signatures", __name__, url_prefix="/api/v1", description="Подписи решений и открытые ключи")

_NAME = re.compile(r"^[a-z0-9_.:-]{1,64}$")


class KeyOut(Schema):
    department = fields.String()
    key_id = fields.String()
    algorithm = fields.String()
    public_key = fields.String(metadata={"description": "PEM"})
    created_at = fields.String()
    active = fields.Boolean()
    retired_at = fields.String(allow_none=True)


class SignatureOut(Schema):
    id = fields.Integer()
    decision = fields.String()
    department = fields.String()
    signed_at = fields.String()
    algorithm = fields.String()
    key_id = fields.String()
    public_key = fields.String(allow_none=True)
    document = fields.String(metadata={"description": "Подписанный документ: подпись проверяется над его UTF-8"})
    signature = fields.String(metadata={"description": "base64"})
    valid = fields.Boolean(metadata={"description": "Проверка подписи сервером"})


class SignaturesOut(Schema):
    object_type = fields.String()
    object_id = fields.String()
    signatures = fields.List(fields.Nested(SignatureOut))


@blp.route("/keys")
@public(blp)
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(KeyOut))
def list_keys(args):
    """Public keys of the departments (active and retired), PEM, with their algorithm."""
    with current_services().uow() as uow:
        return paginate([{"department": k.department, "key_id": k.key_id, "algorithm": k.algorithm,
                          "public_key": k.public_key, "created_at": k.created_at.isoformat(),
                          "active": k.active, "retired_at": k.retired_at.isoformat() if k.retired_at else None}
                         for k in signing.published_keys(uow.session)], args)


@blp.route("/signatures/<object_type>/<object_id>")
@public(blp)
@blp.response(200, SignaturesOut)
def get_signatures(object_type: str, object_id: str):
    """Signatures of one item's decisions with the exact signed document and the key to check it with.

    To check: base64-decode ``signature`` and verify it over the UTF-8 bytes of ``document``
    with ``public_key`` (``algorithm``); ``valid`` is the server's own check.
    """
    if not _NAME.match(object_type) or not _NAME.match(object_id):
        raise NotFound("Подписи не найдены.")
    with current_services().uow() as uow:
        rows = signing.signatures_for(uow.session, object_type, object_id)
        if not rows:
            raise NotFound("Подписи не найдены.")
        out = []
        for row in rows:
            key = uow.session.query(DepartmentKey).filter(DepartmentKey.key_id == row.key_id).one_or_none()
            dept = uow.session.get(Department, row.department_id)
            out.append({"id": row.id, "decision": row.decision, "department": dept.code,
                        "signed_at": row.signed_at.isoformat(), "algorithm": row.algorithm, "key_id": row.key_id,
                        "public_key": key.public_key if key else None, "document": row.document,
                        "signature": row.signature, "valid": signing.verify_signature(uow.session, row)})
        return {"object_type": object_type, "object_id": object_id, "signatures": out}
