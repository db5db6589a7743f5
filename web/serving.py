"""Where the site is served from: is an address this machine's own (loopback), and what
`aduan run` warns about at start when the address it listens on and the cookie setting
(ADUAN_COOKIE_SECURE) do not go together.

Browsers keep a `Secure` cookie only from an HTTPS site, or from this machine's own
addresses (localhost, 127.0.0.0/8, ::1), which they count as secure. `aduan run` serves
plain HTTP: listening on another address while cookies are Secure (the default), every
visitor from another machine loses the session cookie, and with it sign-in and every form.
"""

from __future__ import annotations

import ipaddress


def host_name(host: str) -> str:
    """The name or address of a host without its port: '192.0.2.2:5056' -> '192.0.2.2',
    '[::1]:5000' -> '::1'; a bare IPv6 address ('::1') stays as it is."""
    host = host.strip()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host_name(host))
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """Whether `host` (with or without a port) is this machine's own: browsers keep Secure
    cookies from it over plain HTTP."""
    name = host_name(host).lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _address(name)
    return address is not None and address.is_loopback


def may_be_public(host: str) -> bool:
    """Whether listening on `host` may be reachable beyond a closed network: all interfaces
    (0.0.0.0, ::), a global address, or a name (it may resolve to anything). A private or
    link-local address literal is not."""
    if is_loopback(host):
        return False
    address = _address(host)
    return address is None or address.is_unspecified or address.is_global


def run_warnings(host: str, port: int, cookie_secure: bool, demo_accounts: int = 0
                 ) -> list[str]:
    """What `aduan run --host HOST --port PORT` warns about at start (it serves plain
    HTTP): Secure cookies that browsers on other machines will drop, or cookies sent in
    the clear where the address may be public; and demo accounts (`demo_accounts` of them
    still have the published demo password) reachable from other machines."""
    if is_loopback(host):
        return []
    where = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    warnings = []
    if demo_accounts:
        warnings.append(
            f"warning: {demo_accounts} demo account(s) still have the published demo "
            f"password, administrators included, and anyone who reaches {where} can sign in "
            "as them: show a demo database on a closed network only.")
    return warnings + _cookie_warnings(host, where, cookie_secure)


def _cookie_warnings(host: str, where: str, cookie_secure: bool) -> list[str]:
    if cookie_secure:
        return [
            f"warning: serving plain HTTP on {where}, but session cookies are Secure "
            "(ADUAN_COOKIE_SECURE=1): a browser on another machine drops them, so signing "
            "in and every form fail there. Serve the site through an HTTPS proxy and open it "
            "by https://, or, on a closed network only, set ADUAN_COOKIE_SECURE=0."]
    if may_be_public(host):
        return [
            f"warning: ADUAN_COOKIE_SECURE=0 and serving plain HTTP on {where}, which may be "
            "reachable from outside a closed network: session cookies and passwords travel "
            "unencrypted, and anyone on the way can take over a signed-in session. Serve the "
            "site over HTTPS and leave ADUAN_COOKIE_SECURE unset (1) there; on a closed "
            "network, listen on the machine's private address (--host 192.168.x.y) instead "
            "of all addresses."]
    return []
