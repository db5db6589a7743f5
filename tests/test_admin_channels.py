"""Notification channels and the outbox for system administrators (/admin/channels,
workflows/channel_admin.py): secrets masked, a test message delivered to a real SMTP server
through the outbox, dead letters shown with their error and requeued, counts per day."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from tests.pages import Site
from tests.regency import attach
from tests.test_delivery import smtp_server  # noqa: F401 - the fixture
from web.notifications import build_sender
from workflows.admin_models import AdminAudit
from workflows.models import Outbox

# No SMTP login: aiosmtpd offers no AUTH (the outbox would show the server's refusal).
SECRETS = {"whatsapp_token": "wa-secret-zq", "sms_password": "sms-secret-zq",
           "sms_gateway_secret": "hook-secret-zq"}


@pytest.fixture
def channel_site(demo_template, clock, tmp_path, smtp_server):  # noqa: F811
    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    regency = attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens,
                     smtp_host="127.0.0.1", smtp_port=smtp_server.port,
                     smtp_sender="aduan@ppukab.go.id",
                     sms_url="https://gateway.example/send?key=url-secret-zq", **SECRETS)
    yield Site(regency)
    regency.engine.dispose()


def add_dead(site, channel: str, error: str) -> int:
    regency = site.regency
    with regency.transaction() as session:
        row = Outbox(created_at=regency.clock.now(), channel=channel, recipient="0812345678",
                     template="status_changed", language="id", payload={}, status="dead",
                     attempts=6, last_error=error)
        session.add(row)
        session.flush()
        return row.id


def status_of(site, outbox_id: int) -> str:
    with site.regency.reads() as session:
        return session.scalar(select(Outbox.status).where(Outbox.id == outbox_id))


def test_the_channels_page_masks_secrets_and_is_for_system_admins(channel_site):
    site = channel_site
    site.login("sysadmin")
    page = site.text(site.get("/admin/channels"))
    assert "-zq" not in page and "••••••••" in page and "127.0.0.1" in page
    assert 'id="channel-test"' in page and 'href="/admin/channels"' in site.text(
        site.get("/admin"))
    site.get("/admin/channels?status=lost", expect=422)
    for user in ("admin.kominfo", "kadis.kominfo", "penghubung.pupr", "perancang"):
        site.login(user)
        site.get("/admin/channels", expect=403)
        site.post("/admin/channels/test", {"channel": "email", "recipient": "a@b.go.id"},
                  expect=403)
        site.post("/admin/channels/requeue", {"outbox_id": "1"}, expect=403)


def test_a_test_message_reaches_a_real_smtp_server_through_the_outbox(channel_site,
                                                                     smtp_server):  # noqa: F811
    site = channel_site
    site.login("sysadmin")
    refused = site.text(site.post("/admin/channels/test", {
        "channel": "email", "recipient": "not an address"}, expect=422))
    assert 'id="e-recipient"' in refused and 'value="not an address"' in refused
    site.post("/admin/channels/test", {"channel": "whatsapp", "recipient": "0812 3456 7890"},
              expect=422)  # not configured
    queued = site.post("/admin/channels/test", {"channel": "email",
                                                "recipient": "admin@ppu.example.go.id"},
                       expect=303)
    outbox_id = int(queued.headers["Location"].rsplit("#row-", 1)[1])
    assert status_of(site, outbox_id) == "pending"
    app = site.client.application
    sender = build_sender(app.extensions["aduan.settings"], site.regency.domain)
    assert sender.send_due()["sent"] >= 1
    received = [m for m in smtp_server.messages() if m["Subject"] == "Pesan uji Aduan"]
    assert len(received) == 1 and received[0]["To"] == "admin@ppu.example.go.id"
    assert "sysadmin" in received[0].get_content()
    assert status_of(site, outbox_id) == "sent"
    page = site.text(site.get("/admin/channels?channel=email&status=sent"))
    assert f'id="row-{outbox_id}" data-status="sent"' in page
    counts = page.split('id="delivery-counts"')[1].split("</tbody>")[0]
    assert '<td class="text-end">1</td>' in counts  # today, e-mail
    with site.regency.reads() as session:
        assert "channel.test" in session.scalars(select(AdminAudit.action)).all()


def test_dead_letters_show_their_error_and_are_requeued_one_or_all(channel_site):
    site = channel_site
    first = add_dead(site, "sms", "gateway said <no>")
    second = add_dead(site, "sms", "HTTP 400 invalid number")
    other = add_dead(site, "whatsapp", "token expired")
    site.login("sysadmin")
    page = site.text(site.get("/admin/channels?channel=sms&status=dead"))
    assert "gateway said &lt;no&gt;" in page and 'id="requeue-all"' in page
    assert "token expired" not in page
    site.post("/admin/channels/requeue", {"outbox_id": str(first)}, expect=303)
    assert status_of(site, first) == "pending"
    site.post("/admin/channels/requeue", {"outbox_id": str(first)}, expect=409)  # not dead
    site.post("/admin/channels/requeue", {"channel": "sms"}, expect=303)
    assert (status_of(site, second), status_of(site, other)) == ("pending", "dead")
    with site.regency.reads() as session:
        actions = session.scalars(select(AdminAudit.action).order_by(AdminAudit.id)).all()
    assert actions == ["outbox.requeue", "outbox.requeue_all"]


def test_counts_per_channel_per_local_day_on_both_databases(regency):
    from datetime import timedelta

    from workflows.access import Principal

    now = regency.clock.now()  # Mon 2 Mar 09:00 WITA
    with regency.transaction() as session:
        for channel, sent_at, status, attempts in (
                ("email", now, "sent", 1), ("email", now - timedelta(hours=9, minutes=30),
                                            "sent", 1),  # Sun 1 Mar 23:30 WITA
                ("sms", now - timedelta(days=3), "sent", 1), ("sms", None, "pending", 2),
                ("whatsapp", now - timedelta(days=20), "sent", 1)):  # too old
            session.add(Outbox(created_at=now, channel=channel, recipient="0812345678",
                               template="status_changed", language="id", payload={},
                               status=status, attempts=attempts, sent_at=sent_at))
    view = regency.domain.channels.page(Principal("sysadmin", frozenset({"system_admin"})))
    daily = {row["day"].isoformat(): row for row in view["daily"]}
    assert len(daily) == 14 and daily["2026-03-02"]["email"] == 1
    assert daily["2026-03-01"]["email"] == 1 and daily["2026-02-27"]["sms"] == 1
    assert sum(row["whatsapp"] for row in view["daily"]) == 0
    assert view["counts"][("sms", "failed")] == 1
    failed = regency.domain.channels.page(Principal("sysadmin", frozenset({"system_admin"})),
                                          channel="sms", status="failed")
    assert [r.status for r in failed["rows"]] == ["failed"]
