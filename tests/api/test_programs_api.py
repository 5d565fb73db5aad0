"""The Kotovsk program as the API returns it, against figures typed in from the seed."""
from __future__ import annotations

from decimal import Decimal

SLUG = "kotovsk-information-society"

# Passport "Объемы и источники финансирования программы", тыс. рублей: year -> (regional, city).
SEED_FINANCING = {
    2014: ("620.8", "2821.4"),
    2015: ("597.5", "2727.8"),
    2016: ("623.3", "3856.5"),
    2017: ("0.0", "3229.4"),
    2018: ("0.0", "2849.3"),
    2019: ("0.0", "2607.0"),
    2020: ("101.7", "2392.6"),
}
SEED_AMENDMENT_DATES = [
    "2014-06-23", "2014-10-02", "2014-10-10", "2014-12-31", "2015-06-01", "2015-12-30",
    "2016-02-01", "2016-03-16", "2016-04-18", "2016-06-30", "2016-09-22", "2016-11-02",
    "2016-12-22", "2016-12-30",
]


def program(as_user, who="it"):
    response = as_user(who).get(f"/api/v1/programs/{SLUG}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_identity_and_version(as_user):
    p = program(as_user)
    assert p["slug"] == SLUG
    assert p["version"] == 1
    assert p["current_version"] == 1
    assert p["period"] == {"start": 2014, "end": 2020}
    assert p["approved_by"] == {"number": "3054", "date": "2013-12-09"}
    assert p["executor"] == "it"
    assert p["co_executors"] == ["mfc"]
    assert sorted(p["reviewers"]) == ["economic-policy", "finance"]
    assert "Информационное общество" in p["title"]


def test_twelve_indicators_in_seed_order(as_user):
    indicators = program(as_user)["indicators"]
    assert [i["code"] for i in indicators] == [f"I{n}" for n in range(1, 13)]
    for i in indicators:
        assert i["name"] and i["unit"]
        assert i["direction"] in ("increase", "decrease", "up", "down")
        assert i["actuals"] == {}


def test_financing_cells_equal_the_seed(as_user):
    p = program(as_user)
    expected = sorted(
        [{"year": y, "source": "regional", "amount": r} for y, (r, _) in SEED_FINANCING.items()]
        + [{"year": y, "source": "city", "amount": c} for y, (_, c) in SEED_FINANCING.items()],
        key=lambda c: (c["year"], c["source"]),
    )
    assert sorted(p["financing"], key=lambda c: (c["year"], c["source"])) == expected
    assert len(p["financing"]) == 14
    assert all(isinstance(c["amount"], str) for c in p["financing"])
    assert p["financing_total"] == "22427.3"
    assert sum(Decimal(c["amount"]) for c in p["financing"]) == Decimal("22427.3")
    by_year = {row["year"]: row["total"] for row in p["financing_by_year"]}
    assert by_year == {2014: "3442.2", 2015: "3325.3", 2016: "4479.8", 2017: "3229.4",
                       2018: "2849.3", 2019: "2607.0", 2020: "2494.3"}
    assert set(p["sources"]) == {"regional", "city"}


def test_amendment_history(as_user):
    amendments = program(as_user)["amendments"]
    assert len(amendments) == 14
    assert [a["date"] for a in amendments] == SEED_AMENDMENT_DATES
    assert amendments[-1] == {"date": "2016-12-30", "number": "2536"}


def test_versions(as_user):
    response = as_user("mfc").get(f"/api/v1/programs/{SLUG}/versions")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [v["number"] for v in items] == [1]
    assert items[0]["resolution_number"] == "2536"
    assert items[0]["resolution_date"] == "2016-12-30"

    one = as_user("mfc").get(f"/api/v1/programs/{SLUG}/versions/1")
    assert one.status_code == 200
    assert one.get_json()["version"] == 1
    assert one.get_json()["financing"] == program(as_user)["financing"]

    missing = as_user("mfc").get(f"/api/v1/programs/{SLUG}/versions/2")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"


def test_programs_list(as_user):
    response = as_user("finance").get("/api/v1/programs")
    assert response.status_code == 200
    body = response.get_json()
    slugs = [p["slug"] for p in body["items"]]
    assert SLUG in slugs
    assert body["total"] == len(slugs)
    (kotovsk,) = [p for p in body["items"] if p["slug"] == SLUG]
    assert kotovsk["version"] == 1
    assert kotovsk["financing_total"] == "22427.3"


def test_every_role_reads_the_program(as_user):
    for who in ("it", "it_staff", "mfc", "mfc_staff", "econ", "finance", "admin"):
        assert program(as_user, who)["financing_total"] == "22427.3"
