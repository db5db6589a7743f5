"""Signing in on a real database: throttling that holds under concurrency, a lock that an
attacker elsewhere cannot impose on the owner, and sessions that end on the server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine import Engine, FrozenClock
from workflows import throttle
from workflows.accounts import SESSION_HOURS, AccountLocked, AccountSlowed, InvalidCredentials
from workflows.config import RegencyConfig
from workflows.domain import Domain
from workflows.errors import Invalid, NotFound, TooManyAttempts, Unauthenticated
from workflows.storage import Storage
from workflows.users import Passwords

PASSWORD = "the-right-password"
OWNER = "10.0.0.7"
ELSEWHERE = "203.0.113.9"


class CountingPasswords(Passwords):
    """argon2 as in production (a cheap cost), counting every verification: which password
    was checked, in the order the checks ran."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_kib=2048, parallelism=1)
        self.checked: list[str] = []
        self.lock = threading.Lock()
        self.limit_reached = threading.Event()

    def matches(self, user: Any, password: str) -> bool:
        result = super().matches(user, password)
        with self.lock:
            self.checked.append(password)
            if len(self.checked) >= throttle.LOCK_AFTER_FAILURES:
                self.limit_reached.set()
        return result


@pytest.fixture
def domain(database_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[Domain]:
    engine = Engine(database_url, clock=clock)
    config = RegencyConfig()
    domain = Domain(engine, config, Storage(tmp_path / "uploads", config.max_attachment_bytes),
                    CountingPasswords())
    domain.accounts.create_user(username="admin.kominfo", full_name="Admin Kominfo",
                                roles=["regency_admin"], agency_code=None, password=PASSWORD)
    domain.context.passwords.checked.clear()
    yield domain
    engine.dispose()


def attempt(domain: Domain, password: str, address: str = OWNER,
            username: str = "admin.kominfo") -> str:
    try:
        domain.accounts.sign_in(username, password, address)
        return "signed in"
    except AccountLocked:
        return "locked"
    except AccountSlowed:
        return "slowed"
    except TooManyAttempts:
        return "throttled"
    except InvalidCredentials:
        return "wrong"


def in_parallel(domain: Domain, passwords: list[str], address: str = OWNER,
                start_after: dict[int, threading.Event] | None = None) -> list[str]:
    """Each password tried by its own thread on its own connection, all released at once
    (the threads in `start_after` wait for their event first)."""
    barrier = threading.Barrier(len(passwords))
    outcomes: list[str] = [""] * len(passwords)

    def run(index: int, password: str) -> None:
        barrier.wait()
        if start_after and index in start_after:
            start_after[index].wait(timeout=60)
        outcomes[index] = attempt(domain, password, address)

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(passwords)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(outcomes), outcomes
    return outcomes


# --------------------------------------------------------------------------- concurrency


def test_twenty_parallel_wrong_passwords_check_at_most_the_limit(domain):
    outcomes = in_parallel(domain, [f"wrong-{n:02d}-password" for n in range(20)])
    checked = domain.context.passwords.checked
    assert len(checked) == throttle.LOCK_AFTER_FAILURES, (len(checked), outcomes)
    assert outcomes.count("wrong") == throttle.LOCK_AFTER_FAILURES
    assert outcomes.count("locked") == 20 - throttle.LOCK_AFTER_FAILURES


def test_a_right_password_among_parallel_wrong_ones_never_signs_in_past_the_limit(domain):
    """Released at once, in whatever order the database lets them in: if the right password
    signs in, fewer than the limit of wrong ones were checked before it; either way no more
    than the limit are checked before the lock or the sign-in."""
    for _ in range(5):
        passwords = [f"wrong-{n:02d}-password" for n in range(19)] + [PASSWORD]
        outcomes = in_parallel(domain, passwords)
        checked = domain.context.passwords.checked
        if "signed in" in outcomes:
            before = checked[:checked.index(PASSWORD)]
            assert len(before) < throttle.LOCK_AFTER_FAILURES, outcomes
            # a sign-in clears this address's failures: the next ones count afresh
            assert len(checked) - len(before) - 1 <= throttle.LOCK_AFTER_FAILURES
        else:
            assert PASSWORD not in checked and outcomes[-1] == "locked"
            assert len(checked) == throttle.LOCK_AFTER_FAILURES, outcomes
        checked.clear()
        domain.context.clock.advance(timedelta(minutes=throttle.LOCK_MINUTES + 1))


def test_a_right_password_arriving_once_the_limit_is_reached_is_refused(domain):
    """The right password waits until the limit's worth of wrong ones were checked, while
    the other wrong ones are still in flight: it is refused without being checked."""
    passwords = [f"wrong-{n:02d}-password" for n in range(19)] + [PASSWORD]
    outcomes = in_parallel(domain, passwords,
                           start_after={19: domain.context.passwords.limit_reached})
    checked = domain.context.passwords.checked
    assert outcomes[19] == "locked", outcomes
    assert PASSWORD not in checked
    assert len(checked) == throttle.LOCK_AFTER_FAILURES


# --------------------------------------------------------------------------- whose lock


def fail(domain: Domain, times: int, address: str, username: str = "admin.kominfo"
         ) -> list[str]:
    return [attempt(domain, "wrong-password", address, username) for _ in range(times)]


def test_five_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(domain):
    assert fail(domain, throttle.LOCK_AFTER_FAILURES, ELSEWHERE) == \
        ["wrong"] * throttle.LOCK_AFTER_FAILURES
    assert attempt(domain, PASSWORD, ELSEWHERE) == "locked"
    assert attempt(domain, PASSWORD, OWNER) == "signed in"


def test_the_limit_locks_that_address_until_the_lock_ends_and_refusals_do_not_lengthen_it(
        domain):
    clock = domain.context.clock
    fail(domain, throttle.LOCK_AFTER_FAILURES, ELSEWHERE)
    checked = len(domain.context.passwords.checked)
    for _ in range(10):  # refused unchecked, and not counted
        clock.advance(timedelta(minutes=1))
        with pytest.raises(AccountLocked) as refused:
            domain.accounts.sign_in("admin.kominfo", PASSWORD, ELSEWHERE)
    assert refused.value.retry_minutes == throttle.LOCK_MINUTES - 10
    assert len(domain.context.passwords.checked) == checked
    clock.advance(timedelta(minutes=throttle.LOCK_MINUTES - 10))
    assert attempt(domain, PASSWORD, ELSEWHERE) == "signed in"


def test_unknown_usernames_lock_the_same_way(domain):
    assert fail(domain, throttle.LOCK_AFTER_FAILURES + 1, ELSEWHERE, "nobody.here")[-1] == \
        "locked"


def test_many_addresses_slow_the_account_down_but_not_its_owner_at_a_usual_address(domain):
    clock = domain.context.clock
    assert attempt(domain, PASSWORD, OWNER) == "signed in"  # the owner's usual address
    botnet = [f"198.51.100.{n}" for n in range(throttle.SLOW_AFTER_FAILURES)]
    for address in botnet:
        assert fail(domain, 1, address) == ["wrong"]
    # A new address must wait FIRST_DELAY_SECONDS after the last failure...
    with pytest.raises(AccountSlowed) as refused:
        domain.accounts.sign_in("admin.kominfo", PASSWORD, "192.0.2.50")
    assert refused.value.retry_minutes == 1
    # ...then it may try once, and the wait doubles with each failure, up to the cap.
    waited = []
    for n in range(8):
        delay = min(throttle.MAX_DELAY_SECONDS, throttle.FIRST_DELAY_SECONDS * 2 ** n)
        clock.advance(timedelta(seconds=delay - 1))
        assert attempt(domain, "wrong-password", f"192.0.2.{n}") == "slowed"
        clock.advance(timedelta(seconds=1))
        assert attempt(domain, "wrong-password", f"192.0.2.{n}") == "wrong"
        waited.append(delay)
    assert waited[-1] == throttle.MAX_DELAY_SECONDS
    # The owner from their usual address is not slowed down.
    assert attempt(domain, PASSWORD, OWNER) == "signed in"
    # The owner somewhere new waits at most the cap, then signs in.
    assert attempt(domain, PASSWORD, "192.0.2.99") == "slowed"
    clock.advance(timedelta(seconds=throttle.MAX_DELAY_SECONDS))
    assert attempt(domain, PASSWORD, "192.0.2.99") == "signed in"


def test_a_sign_in_forgets_the_failures_of_its_address_only(domain):
    fail(domain, throttle.LOCK_AFTER_FAILURES - 1, OWNER)
    fail(domain, throttle.LOCK_AFTER_FAILURES - 1, ELSEWHERE)
    assert attempt(domain, PASSWORD, OWNER) == "signed in"
    assert fail(domain, throttle.LOCK_AFTER_FAILURES - 1, OWNER) == \
        ["wrong"] * (throttle.LOCK_AFTER_FAILURES - 1)
    assert fail(domain, 2, ELSEWHERE) == ["wrong", "locked"]


def test_an_administrator_unlocks_an_account(domain):
    fail(domain, throttle.LOCK_AFTER_FAILURES, OWNER)
    assert attempt(domain, PASSWORD, OWNER) == "locked"
    assert domain.accounts.unlock("admin.kominfo")["failures_forgotten"] == \
        throttle.LOCK_AFTER_FAILURES
    assert attempt(domain, PASSWORD, OWNER) == "signed in"


# --------------------------------------------------------------------------- sessions


def signed_in(domain: Domain, address: str = OWNER) -> tuple[str, str]:
    signed = domain.accounts.sign_in("admin.kominfo", PASSWORD, address)
    return signed.session_id, signed.fingerprint


def test_signing_out_ends_the_session_on_the_server(domain):
    first, fp = signed_in(domain)
    second, _ = signed_in(domain, ELSEWHERE)
    assert domain.accounts.session_user(first, fp).full_name == "Admin Kominfo"
    domain.accounts.sign_out(first)
    assert domain.accounts.session_user(first, fp) is None
    assert domain.accounts.session_user(second, fp) is not None  # the other device stays
    assert domain.accounts.session_user("made-up-session-id", fp) is None


def test_a_session_ends_after_its_hours_whatever_the_cookie_says(domain):
    session_id, fp = signed_in(domain)
    domain.context.clock.advance(timedelta(hours=SESSION_HOURS) - timedelta(minutes=1))
    assert domain.accounts.session_user(session_id, fp) is not None
    domain.context.clock.advance(timedelta(minutes=2))
    assert domain.accounts.session_user(session_id, fp) is None


def test_a_new_password_ends_every_session_and_only_the_new_one_signs_in(domain):
    first, fp = signed_in(domain)
    second, _ = signed_in(domain, ELSEWHERE)
    result = domain.accounts.set_password("admin.kominfo", "a-brand-new-password")
    assert result["sessions_ended"] == 2
    for session_id in (first, second):
        assert domain.accounts.session_user(session_id, fp) is None
    assert attempt(domain, PASSWORD) == "wrong"
    assert attempt(domain, "a-brand-new-password") == "signed in"
    with pytest.raises(Invalid) as short:
        domain.accounts.set_password("admin.kominfo", "short")
    assert "password" in short.value.field_errors
    with pytest.raises(NotFound):
        domain.accounts.set_password("nobody.here", "long-enough-password")


def test_disabling_an_account_ends_its_sessions_and_refuses_its_tokens(domain):
    session_id, fp = signed_in(domain)
    token = domain.accounts.create_token("admin.kominfo")["token"]
    assert domain.accounts.authenticate_token(token).username == "admin.kominfo"
    assert domain.accounts.set_active("admin.kominfo", False)["sessions_ended"] == 1
    assert domain.accounts.session_user(session_id, fp) is None
    with pytest.raises(Unauthenticated):
        domain.accounts.authenticate_token(token)
    assert attempt(domain, PASSWORD) == "wrong"
    domain.accounts.set_active("admin.kominfo", True)
    assert domain.accounts.session_user(session_id, fp) is None  # ended for good
    assert domain.accounts.authenticate_token(token).username == "admin.kominfo"
    assert attempt(domain, PASSWORD) == "signed in"


def test_signing_out_everywhere(domain):
    sessions = [signed_in(domain, address) for address in (OWNER, ELSEWHERE)]
    assert domain.accounts.end_sessions("admin.kominfo")["sessions_ended"] == 2
    assert all(domain.accounts.session_user(s, fp) is None for s, fp in sessions)
