"""Open311 GeoReport v2 (web/open311.py, workflows/open311.py): over real HTTP on loopback,
read with the `georeport` client from PyPI, filed with the standard's form POSTs."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
from georeport import GeoReport
from werkzeug.serving import make_server

from engine import FrozenClock
from tests.regency import attach


class Server:
    def __init__(self, regency: Any, url: str) -> None:
        self.regency, self.url = regency, url
        self.key = regency.domain.open311.create_key("aplikasi warga", "admin.kominfo")["key"]

    def post(self, key: str | None = "", **form: str) -> requests.Response:
        data = {"api_key": self.key if key == "" else key, **form}
        if data["api_key"] is None:
            del data["api_key"]
        return requests.post(f"{self.url}/requests.json", data=data, timeout=30)

    def file(self, **form: str) -> str:
        fields = {"service_code": "roads", "lat": "-1.2", "long": "116.7",
                  "description": "Jalan berlubang besar di depan pasar", "first_name": "Budi",
                  "last_name": "Santoso", "email": "budi@example.org", **form}
        response = self.post(**fields)
        assert response.status_code == 201, response.text
        return response.json()[0]["service_request_id"]


@pytest.fixture
def server(demo_template: tuple[Any, dict[str, str]], clock: FrozenClock, tmp_path: Any
           ) -> Iterator[Server]:
    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    regency = attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens)
    app = regency.client.application
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield Server(regency, f"http://127.0.0.1:{http.server_port}/open311/v2")
    http.shutdown()
    regency.engine.dispose()


def test_discovery_names_the_endpoint_and_its_formats(server):
    document = requests.get(f"{server.url}/discovery.json", timeout=30).json()
    endpoint = document["endpoints"][0]
    assert endpoint["url"] == server.url + "/"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}


def test_the_client_library_lists_the_services_in_indonesian_in_json_and_xml(server):
    for fmt in ("json", "xml"):
        services = GeoReport(server.url, output_format=fmt).get_service_list()
        roads = next(s for s in services if s["service_code"] == "roads")
        assert roads["service_name"] == "Jalan"
        assert "berlubang" in roads["description"]
    definition = GeoReport(server.url).get_service_definition("waste")
    assert [a["code"] for a in definition["attributes"]] == ["rahasia", "anonim"]
    xml = GeoReport(server.url, output_format="xml").get_service_definition("waste")
    assert xml["service_code"] == "waste"
    missing = requests.get(f"{server.url}/services/nope.json", timeout=30)
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


def test_a_request_filed_with_a_key_is_read_back_by_the_client_library(server):
    response = server.post(service_code="roads", lat="-1.25", long="116.8",
                           description="Jalan berlubang besar di depan pasar Penajam",
                           first_name="Budi", email="budi@example.org")
    assert response.status_code == 201, response.text
    receipt = response.json()[0]
    number = receipt["service_request_id"]
    assert number.startswith("PPU-")
    client = GeoReport(server.url)
    found = client.get_service_request(number)
    assert found["status"] == "open"
    assert found["service_code"] == "roads" and found["service_name"] == "Jalan"
    assert found["lat"] == -1.25 and found["long"] == 116.8
    assert found["expected_datetime"]  # the verification deadline is running
    assert found["requested_datetime"].endswith("+08:00")
    token = requests.get(f"{server.url}/tokens/{receipt['token']}.json", timeout=30).json()
    assert token == [{"service_request_id": number, "token": receipt["token"]}]
    xml = GeoReport(server.url, output_format="xml").get_service_request(number)
    assert xml["service_request_id"] == number and xml["status"] == "open"
    with server.regency.reads() as session:
        from sqlalchemy import select

        from workflows.models import Complaint
        channel = session.scalar(select(Complaint.channel)
                                 .where(Complaint.tracking_number == number))
    assert channel == "open311"


def test_a_bad_or_revoked_key_is_refused_with_403_and_nothing_is_filed(server):
    before = GeoReport(server.url).get_service_requests()
    for key in ("not-a-key", None):
        response = server.post(key=key, service_code="roads", lat="-1.2", long="116.7",
                               description="Jalan berlubang besar di depan pasar")
        assert response.status_code == 403
        assert response.json()[0]["code"] == 403
        assert "api_key" in response.json()[0]["description"]
    keys = server.regency.domain.open311.list_keys()
    server.regency.domain.open311.revoke_key(keys[0]["id"])
    assert server.post(service_code="roads", lat="-1.2", long="116.7",
                       description="Jalan berlubang di depan pasar").status_code == 403
    assert GeoReport(server.url).get_service_requests() == before


def test_missing_fields_are_400_in_the_standards_error_format_naming_each(server):
    response = server.post(lat="abc")
    assert response.status_code == 400
    errors = response.json()
    assert all(e["code"] == 400 for e in errors)
    named = {e["description"].split(":")[0] for e in errors}
    assert {"service_code", "description", "lat"} <= named
    short = server.post(service_code="roads", address_string="Jl. Propinsi",
                        description="rusak")
    assert short.status_code == 400
    assert short.json()[0]["description"].startswith("description:")
    xml = requests.post(f"{server.url}/requests.xml", data={"api_key": server.key},
                        timeout=30)
    assert xml.status_code == 400
    root = ElementTree.fromstring(xml.content)
    assert root.tag == "errors" and root.find("error/code").text == "400"


def test_the_standard_filters_select_requests(server):
    roads = server.file()
    waste = server.file(service_code="waste", description="Sampah menumpuk di pasar lama")
    client = GeoReport(server.url)
    assert [r["service_request_id"] for r in client.get_service_requests(
        service_code="waste")] == [waste]
    both = client.get_service_requests(service_request_id=f"{roads},{waste}")
    assert {r["service_request_id"] for r in both} == {roads, waste}
    assert client.get_service_requests(status="closed") == []
    assert {r["service_request_id"] for r in client.get_service_requests(status="open")} \
        >= {roads, waste}
    assert client.get_service_requests(start_date="2000-01-01T00:00:00Z",
                                       end_date="2000-02-01T00:00:00Z") == []
    wide = requests.get(f"{server.url}/requests.json", params={
        "start_date": "2026-01-01T00:00:00Z", "end_date": "2026-12-01T00:00:00Z"}, timeout=30)
    assert wide.status_code == 400 and wide.json()[0]["description"].startswith("end_date")
    bad = requests.get(f"{server.url}/requests.json", params={"status": "done"}, timeout=30)
    assert bad.status_code == 400 and bad.json()[0]["description"].startswith("status")


def test_rahasia_reports_and_anonim_identities_never_appear(server):
    secret = server.file(**{"attribute[rahasia]": "true",
                            "description": "Rahasia: pungutan liar di kantor kelurahan"})
    hidden = server.file(**{"attribute[anonim]": "ya", "first_name": "Siti",
                            "last_name": "Rahmawati", "email": "siti@example.org"})
    listed = requests.get(f"{server.url}/requests.json", timeout=30).text
    xml = requests.get(f"{server.url}/requests.xml", timeout=30).text
    for text in (listed, xml):
        assert secret not in text and "pungutan liar" not in text
        assert hidden in text
        assert "Siti" not in text and "siti@example.org" not in text and "Budi" not in text
    one = requests.get(f"{server.url}/requests/{secret}.json", timeout=30)
    assert one.status_code == 404


def test_an_archived_report_is_withdrawn_from_publication(server):
    spam = server.file(description="Promo pinjaman online cepat cair hubungi kami")
    assert "Promo pinjaman" in requests.get(f"{server.url}/requests.json", timeout=30).text
    server.regency.act(spam, "archive", as_="admin.kominfo", reason="Spam")
    assert "Promo pinjaman" not in requests.get(f"{server.url}/requests.json",
                                                timeout=30).text
    assert requests.get(f"{server.url}/requests/{spam}.json", timeout=30).status_code == 404


def test_a_key_is_limited_to_its_requests_per_minute(server):
    limit = server.regency.domain.config.open311_requests_per_minute
    for _ in range(limit):
        assert requests.get(f"{server.url}/services.json", params={"api_key": server.key},
                            timeout=30).status_code == 200
    refused = requests.get(f"{server.url}/services.json", params={"api_key": server.key},
                           timeout=30)
    assert refused.status_code == 429
    assert refused.json()[0]["description"].startswith("api_key:")
    server.regency.clock.advance(seconds=61)
    assert requests.get(f"{server.url}/services.json", params={"api_key": server.key},
                        timeout=30).status_code == 200


def test_keys_are_stored_hashed_and_listed_without_the_key(server):
    rows = server.regency.domain.open311.list_keys()
    assert rows[0]["name"] == "aplikasi warga" and "key" not in rows[0]
    with server.regency.reads() as session:
        from sqlalchemy import select

        from workflows.open311_models import Open311Key
        hashes = list(session.scalars(select(Open311Key.key_hash)))
    assert server.key not in hashes and len(hashes[0]) == 64


def test_the_cli_creates_lists_and_revokes_keys(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from web.cli import main

    monkeypatch.setenv("ADUAN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(main, [*args, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout.strip().splitlines()[-1])

    run("db", "upgrade")
    created = run("open311", "keys", "create", "aplikasi warga", "--by", "admin.kominfo")
    assert len(created["key"]) >= 32 and created["created_by"] == "admin.kominfo"
    listed = run("open311", "keys", "list")
    assert listed == [{k: v for k, v in created.items() if k != "key"}]
    assert run("open311", "keys", "revoke", str(created["id"]))["revoked_at"]
    assert run("open311", "keys", "list")[0]["revoked_at"]
