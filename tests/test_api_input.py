"""Bad input never gives a 500 (issue 13, item 6): deep JSON, text no database stores,
numbers and dates beyond what the data model holds, and the OpenAPI document's rules. Each
refusal is a 4xx naming the field or parameter, alike on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

import pytest
from jsonschema import Draft202012Validator

GOOD = {"classification": "pengaduan", "category": "roads", "title": "Jalan berlubang",
        "body": "Lubang besar di jalan, berbahaya.", "reporter_name": "Budi"}
HUGE = 10**20  # beyond any BIGINT id
DEEP = "[" * 50_000 + "]" * 50_000


def nested(levels: int) -> str:
    return '{"title": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def field_errors(response) -> dict[str, str]:
    return response.get_json()["error"].get("field_errors", {})


def total_reports(regency) -> int:
    return regency.get("/api/v1/complaints", as_="admin.kominfo")["total"]


def test_json_nested_50000_deep_is_refused_naming_the_body_or_the_form_field(regency):
    client = regency.client
    tracking = regency.submit()["tracking_number"]
    response = client.post("/api/v1/complaints", data=DEEP, content_type="application/json")
    assert response.status_code == 422 and "(body)" in field_errors(response)
    assert "nested" in response.get_json()["error"]["message"]
    response = client.post("/api/v1/complaints", data={"data": DEEP},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "data" in field_errors(response)
    response = client.post(f"/api/v1/complaints/{tracking}/actions/verify", data=DEEP,
                           content_type="application/json",
                           headers=regency.headers("admin.kominfo"))
    assert response.status_code == 422 and "(body)" in field_errors(response)


def test_json_nested_past_64_levels_is_refused_before_validation(regency):
    too_deep = regency.client.post("/api/v1/complaints", data=nested(65),
                                   content_type="application/json")
    assert too_deep.status_code == 422
    assert field_errors(too_deep) == {"(body)": "at most 64 levels of nesting"}
    deep_enough = regency.client.post("/api/v1/complaints", data=nested(64),
                                      content_type="application/json")
    assert deep_enough.status_code == 422  # read, then refused by the schema, by field
    assert "title" in field_errors(deep_enough)


@pytest.mark.parametrize("field", ["title", "body", "reporter_name", "sub_classification",
                                   "address"])
@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
def test_text_no_database_stores_is_refused_naming_the_field(regency, field, bad):
    before = total_reports(regency)
    body = json.dumps({**GOOD, field: GOOD.get(field, "Jalan Provinsi") + bad})
    response = regency.client.post("/api/v1/complaints", data=body,
                                   content_type="application/json")
    assert response.status_code == 422, response.get_json()
    assert field in field_errors(response)
    assert "remove the" in field_errors(response)[field]
    multipart = regency.client.post("/api/v1/complaints", data={
        "data": body, "attachments": [(io.BytesIO(b"x"), "x.txt")]},
        content_type="multipart/form-data")
    assert multipart.status_code == 422 and field in field_errors(multipart)
    assert total_reports(regency) == before


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
def test_an_action_or_a_note_with_unstorable_text_is_refused_naming_the_field(regency, bad):
    tracking = regency.submit()["tracking_number"]
    response = regency.client.post(
        f"/api/v1/complaints/{tracking}/actions/verify",
        data=json.dumps({"note": "ok" + bad}), content_type="application/json",
        headers=regency.headers("admin.kominfo"))
    assert response.status_code == 422 and "note" in field_errors(response)
    assert regency.report(tracking)["status"] == "SUBMITTED"
    key = regency.client.post("/api/v1/complaints", data=json.dumps({**GOOD, "x" + bad: 1}),
                              content_type="application/json")
    assert key.status_code == 422 and key.get_json()["error"]["field_errors"]


@pytest.mark.parametrize(("query", "parameter"), [
    ("offset=100000000000000000000", "offset"),
    ("offset=-1", "offset"),
    ("limit=0", "limit"),
    ("limit=201", "limit"),
    ("since=0001-01-01", "since"),
    ("until=9999-12-31", "until"),
    ("since=yesterday", "since"),
    ("status=bogus", "status"),
    ("overdue=maybe", "overdue"),
    ("agency=dinas%00pupr", "agency"),
    ("colour=blue", "colour"),
])
def test_list_parameters_beyond_the_data_model_get_400_naming_the_parameter(
        regency, query, parameter):
    response = regency.client.get(f"/api/v1/complaints?{query}",
                                  headers=regency.headers("admin.kominfo"))
    assert response.status_code == 400, response.get_json()
    assert parameter in field_errors(response)


def test_the_list_takes_every_value_its_document_allows(regency):
    regency.submit()
    found = regency.get("/api/v1/complaints?since=2000-01-01&until=2100-12-31&limit=200"
                        "&offset=10000000&status=SUBMITTED&overdue=false", as_="admin.kominfo")
    assert found["total"] == 1 and found["items"] == []


@pytest.mark.parametrize(("path", "parameter"), [
    ("/api/v1/notifications?unread=maybe", "unread"),
    ("/api/v1/notifications?unread=1", "unread"),
    ("/api/v1/escalations?status=bogus", "status"),
])
def test_other_query_parameters_outside_their_choices_get_400(regency, path, parameter):
    response = regency.client.get(path, headers=regency.headers("penghubung.pupr"))
    assert response.status_code == 400, response.get_json()
    assert parameter in field_errors(response)


def test_the_calendar_and_statistics_keep_answering_bad_parameters_with_422(regency):
    for path in ("/api/v1/calendar?year=soon", "/api/v1/calendar?year=1800",
                 "/api/v1/stats/public?year=99999999999999999999"):
        response = regency.client.get(path)
        assert response.status_code == 422 and "year" in field_errors(response)


def test_ids_beyond_the_database_range_are_not_found(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    headers = regency.headers("admin.kominfo")
    client = regency.client
    assert client.get(f"/api/v1/complaints/{tracking}/attachments/{HUGE}",
                      headers=headers).status_code == 404
    assert client.get(f"/api/v1/complaints/{tracking}/attachments/{2**63}",
                      headers=headers).status_code == 404
    assert client.post(f"/api/v1/escalations/{HUGE}/acknowledge", json={},
                       headers=headers).status_code == 404
    marked = client.post("/api/v1/notifications/read", json={"ids": [1, HUGE]},
                         headers=headers)
    assert marked.status_code == 422 and "ids" in field_errors(marked)
    assert client.post("/api/v1/notifications/read", json={"ids": [2**63 - 1, 3.0]},
                       headers=headers).get_json() == {"marked": 0}


def test_a_nul_in_the_path_names_nothing(regency):
    response = regency.client.get("/api/v1/complaints/PPU-2026-%00",
                                  headers=regency.headers("admin.kominfo"))
    assert response.status_code == 404
    assert "tracking_number" in response.get_json()["error"]["message"]


def test_the_openapi_document_says_what_the_server_accepts(regency):
    document = regency.get("/api/v1/openapi.json")
    paths = document["paths"]
    submit = paths["/complaints"]["post"]["requestBody"]["content"]["application/json"]
    schema = Draft202012Validator(submit["schema"])
    assert not schema.is_valid({k: v for k, v in GOOD.items() if k != "reporter_name"})
    assert schema.is_valid({**{k: v for k, v in GOOD.items() if k != "reporter_name"},
                            "anonymous": True})
    assert not schema.is_valid({**GOOD, "reporter_name": "   "})
    assert not schema.is_valid({**GOOD, "title": "Jalan\x00berlubang"})
    assert not schema.is_valid({**GOOD, "latitude": -1.2})
    listing = {p["name"]: p["schema"] for p in paths["/complaints"]["get"]["parameters"]}
    assert listing["status"]["enum"][0] == "SUBMITTED"
    assert listing["offset"]["maximum"] == 10_000_000
    assert {"400", "403"} <= set(paths["/complaints"]["get"]["responses"])
    notifications = paths["/notifications"]["get"]
    assert notifications["parameters"][0]["schema"] == {"type": "boolean"}
    assert "400" in notifications["responses"]
    assert "422" in paths["/complaints"]["post"]["responses"]
    action = paths["/complaints/{tracking_number}/actions/verify"]["post"]["responses"]
    assert {"403", "404", "409", "422"} <= set(action)
    attachment = paths["/complaints/{tracking_number}/attachments/{attachment_id}"]["get"]
    ids = {p["name"]: p["schema"] for p in attachment["parameters"]}
    assert ids["attachment_id"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


def test_the_cases_page_names_dates_beyond_the_data_model(site):
    site.login("admin.kominfo")
    page = site.get("/cases?since=0001-01-01&until=9999-12-31", expect=422)
    text = site.text(page)
    assert "2000-01-01" in text and "2100-12-31" in text
    site.get(f"/cases/PPU-2026-000001/attachments/{HUGE}/download", expect=404)
