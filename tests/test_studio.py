"""The process designers' studio: who may enter, what its home shows."""

from __future__ import annotations

import pytest

from tests.pages import Site


def test_a_process_designer_lands_in_the_studio_and_sees_the_lifecycle(site: Site):
    response = site.post("/login", {"username": "perancang", "password": "aduan-demo-2026"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/studio")
    page = site.text(site.get("/studio"))
    assert "Studio proses" in page and "complaint_lifecycle" in page
    assert 'id="studio-read-only"' not in page
    assert 'href="/studio"' in page  # in the navigation bar


def test_the_regency_administrator_reads_the_studio(site: Site):
    site.login("admin.kominfo")
    page = site.text(site.get("/studio"))
    assert 'id="studio-read-only"' in page and "complaint_lifecycle" in page


@pytest.mark.parametrize("username", ["penghubung.pupr", "kadis.kominfo", "sysadmin",
                                      "teknis.binamarga"])
def test_other_roles_are_refused(site: Site, username: str):
    site.login(username)
    site.get("/studio", expect=403)
    assert 'href="/studio"' not in site.text(site.get("/tasks"))


def test_visitors_are_sent_to_sign_in(site: Site):
    response = site.get("/studio", expect=302)
    assert "/login?next=/studio" in response.headers["Location"]


def test_the_incident_count_is_the_engines(site: Site):
    from engine import SourceFile
    from tests.diagram import linear, script_task

    site.login("perancang")
    assert 'id="studio-incidents">0<' in site.text(site.get("/studio"))
    engine = site.regency.engine
    engine.deploy([SourceFile("broken.bpmn", linear("broken", script_task("fail", "x = 1 / 0")))])
    engine.start("broken")
    page = site.text(site.get("/studio"))
    assert 'id="studio-incidents">1<' in page and "broken" in page


def test_only_studio_pages_allow_the_modelers_style_attributes(site: Site):
    """bpmn-js, dmn-js and the properties panel write a few inline style attributes: the
    studio's policy allows exactly those, by hash; every other page keeps the strict one."""
    from web.app import STUDIO_STYLE_ATTRIBUTES

    site.login("perancang")
    studio = site.get("/studio").headers["Content-Security-Policy"]
    style = next(d for d in studio.split("; ") if d.startswith("style-src "))
    assert style.split()[:3] == ["style-src", "'self'", "'unsafe-hashes'"]
    assert len(style.split()) == 3 + len(STUDIO_STYLE_ATTRIBUTES)
    assert "script-src 'self';" in studio and "unsafe-inline" not in studio
    for path in ("/tasks", "/"):
        other = site.get(path, expect=None).headers["Content-Security-Policy"]
        assert "style-src 'self';" in other and "unsafe-hashes" not in other
