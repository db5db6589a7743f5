"""Where the site is served (web/serving.py): this machine's own addresses, and what
`aduan run` warns about when the address it listens on and ADUAN_COOKIE_SECURE disagree."""

from __future__ import annotations

import pytest

from web.serving import host_name, is_loopback, may_be_public, run_warnings


@pytest.mark.parametrize(("host", "name"), [
    ("192.0.2.2:5056", "192.0.2.2"), ("[::1]:5000", "::1"), ("::1", "::1"),
    ("localhost", "localhost"), ("aduan.example.go.id:443", "aduan.example.go.id")])
def test_the_host_name_loses_its_port_but_not_an_ipv6_address(host, name):
    assert host_name(host) == name


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "localhost", "LOCALHOST:5000",
                                  "app.localhost", "::1", "[::1]:5000"])
def test_this_machines_own_addresses_are_loopback(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.2", "192.168.1.10",
                                  "10.0.0.5:5000", "aduan.example.go.id", "localhost.example"])
def test_other_addresses_are_not_loopback(host):
    assert not is_loopback(host)


@pytest.mark.parametrize(("host", "public"), [
    ("0.0.0.0", True), ("::", True), ("8.8.8.8", True), ("aduan.example.go.id", True),
    ("192.168.1.10", False), ("10.0.0.5", False), ("fe80::1", False), ("127.0.0.1", False)])
def test_all_addresses_global_ones_and_names_may_be_public(host, public):
    assert may_be_public(host) is public


def test_loopback_needs_no_warning_whatever_the_cookies():
    assert run_warnings("127.0.0.1", 5000, cookie_secure=True) == []
    assert run_warnings("localhost", 5000, cookie_secure=False) == []


def test_another_address_with_secure_cookies_is_warned_about_with_the_way_out():
    [warning] = run_warnings("0.0.0.0", 5056, cookie_secure=True)
    assert warning.startswith("warning: ") and "http://0.0.0.0:5056" in warning
    assert "HTTPS" in warning and "ADUAN_COOKIE_SECURE=0" in warning
    [warning] = run_warnings("::", 8080, cookie_secure=True)
    assert "http://[::]:8080" in warning


def test_clear_text_cookies_are_warned_about_only_where_the_address_may_be_public():
    [warning] = run_warnings("0.0.0.0", 5000, cookie_secure=False)
    assert "unencrypted" in warning and "--host 192.168" in warning
    assert run_warnings("192.168.1.10", 5000, cookie_secure=False) == []


def test_demo_accounts_reachable_from_other_machines_are_warned_about():
    first, cookies = run_warnings("0.0.0.0", 5000, cookie_secure=True, demo_accounts=19)
    assert "19 demo account(s)" in first and "closed network" in first
    assert "ADUAN_COOKIE_SECURE=0" in cookies
    assert run_warnings("127.0.0.1", 5000, cookie_secure=True, demo_accounts=19) == []
    assert run_warnings("192.168.1.10", 5000, cookie_secure=False, demo_accounts=0) == []
