"""Fifty concurrent clients firing conflicting transitions on the same items."""
from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict

from sqlalchemy import select

from services.models.requests import InformationRequest
from services.models.workflow import OutboxEvent, TransitionRecord
from tests.conftest import ApiClient, seed
from tests.faults.conftest import PROGRAM, assert_history_consistent

CLIENTS = 50
ITEMS = 5
# From 'answered' both lead to a final state, so exactly one of them can ever happen.
EVENTS = {"accept": "accepted", "withdraw": "withdrawn"}


def test_fifty_clients_conflicting_transitions_exactly_one_wins(pg_services):
    from services.web.app import create_app

    services = pg_services
    tokens = seed(services)
    app = create_app(services=services, test_config={"TESTING": True})
    it, mfc = ApiClient(app.test_client(), tokens["it"]), ApiClient(app.test_client(), tokens["mfc"])
    ids = []
    for n in range(ITEMS):
        created = it.post("/api/v1/requests", json={"program": PROGRAM, "subject": f"Спор {n}",
                                                    "addressees": ["mfc"], "send": True})
        rid = created.json["requests"][0]["id"]
        assert mfc.post(f"/api/v1/requests/{rid}/transitions",
                        json={"event": "answer", "data": {"text": "ok"}}).status_code == 200
        ids.append(rid)

    rng = random.Random(50)
    plan = [(ids[i % ITEMS], rng.choice(sorted(EVENTS)), rng.choice(["it", "it_staff"])) for i in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS)
    results: list[tuple[int, str, int, dict]] = []
    lock = threading.Lock()

    def fire(rid: int, event: str, who: str) -> None:
        client = ApiClient(app.test_client(), tokens[who])
        barrier.wait(30)
        response = client.post(f"/api/v1/requests/{rid}/transitions", json={"event": event})
        with lock:
            results.append((rid, event, response.status_code, response.json))

    threads = [threading.Thread(target=fire, args=args) for args in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == CLIENTS

    statuses = Counter(status for _, _, status, _ in results)
    assert set(statuses) <= {200, 409}, statuses
    winners = defaultdict(list)
    for rid, event, status, body in results:
        if status == 200:
            winners[rid].append(event)
            assert body["state"] == EVENTS[event]
        else:
            assert body["error"]["code"] in ("transition_not_allowed", "stale"), body
    assert {rid: len(w) for rid, w in winners.items()} == {rid: 1 for rid in ids}
    assert statuses[409] == CLIENTS - ITEMS

    with services.uow() as uow:
        stored = dict(uow.session.execute(select(InformationRequest.id, InformationRequest.state)).all())
        rows = uow.session.execute(select(TransitionRecord.item_id, TransitionRecord.event)
                                   .where(TransitionRecord.from_state == "answered")).all()
        events = Counter(t for t, in uow.session.execute(select(OutboxEvent.type)).all())
    for rid in ids:
        assert stored[rid] == EVENTS[winners[rid][0]]
        assert [e for item, e in rows if item == rid] == winners[rid]
    assert events["information_request.accept"] + events["information_request.withdraw"] == ITEMS
    assert_history_consistent(services)
