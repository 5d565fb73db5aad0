"""The public open-data CSV over HTTP: one content type, said once (issue 13, 3)."""
from __future__ import annotations

PROGRAM = "kotovsk-information-society"


def test_public_csv_says_its_content_type_once(as_user, tokens):
    for url in (f"/api/v1/public/programs/{PROGRAM}.csv", f"/api/v1/public/programs/{PROGRAM}?format=csv"):
        response = as_user(None).get(url)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.get_data(as_text=True).lstrip("\ufeff").splitlines() == [
            "period,kind,section,code,name,unit,plan,fact,ratio"]
