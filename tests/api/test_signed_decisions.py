"""Binding decisions carry a signature anyone can check with the published public key."""
from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.api.test_amendments_api import RAISE_2017, adopt, approved
from tests.api.test_reports_api import _publish, schedule


def _check_with_public_key(client, signature: dict) -> bool:
    keys = {k["key_id"]: k for k in client.get("/api/v1/keys").json["items"]}
    key = load_pem_public_key(keys[signature["key_id"]]["public_key"].encode())
    assert isinstance(key, Ed25519PublicKey)
    try:
        key.verify(base64.b64decode(signature["signature"]), signature["document"].encode())
        return True
    except Exception:  # noqa: BLE001 - InvalidSignature
        return False


def test_report_acceptance_is_signed_by_economic_policy(services, tokens, as_user, app):
    schedule(services)
    rid = _publish(as_user, services, "2017-Q1")
    anonymous = app.test_client()
    body = anonymous.get(f"/api/v1/signatures/report/{rid}").json
    [sig] = body["signatures"]
    assert (sig["decision"], sig["department"], sig["valid"]) == ("accept", "economic-policy", True)
    assert _check_with_public_key(anonymous, sig)
    document = json.loads(sig["document"])
    assert document["content"]["period"] == "2017-Q1"
    # A changed document fails verification.
    forged = dict(sig, document=sig["document"].replace("2017-Q1", "2017-Q2"))
    assert not _check_with_public_key(anonymous, forged)


def test_amendment_approvals_and_adoption_are_signed_by_each_department(as_user, app):
    amendment = approved(as_user, RAISE_2017)
    adopt(as_user, amendment["id"])
    anonymous = app.test_client()
    sigs = anonymous.get(f"/api/v1/signatures/amendment/{amendment['id']}").json["signatures"]
    assert sorted((s["decision"], s["department"]) for s in sigs) == [
        ("adopt", "it"), ("approve", "economic-policy"), ("approve", "finance")]
    assert all(s["valid"] and _check_with_public_key(anonymous, s) for s in sigs)
