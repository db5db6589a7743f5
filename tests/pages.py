"""The demo regency's pages through Flask's test client: sign in, CSRF-carrying posts."""

from __future__ import annotations

import re
from typing import Any

from tests.regency import Regency

DEMO_PASSWORD = "aduan-demo-2026"
CSRF = re.compile(r'name="csrf[_-]token" (?:value|content)="([^"]+)"')


class Site:
    """A browser-like client of the pages: one cookie jar, the CSRF token of the last page."""

    def __init__(self, regency: Regency) -> None:
        self.regency = regency
        self.client = regency.client.application.test_client()
        self.token: str | None = None

    def get(self, path: str, expect: int | None = 200, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        if expect is not None:
            assert response.status_code == expect, (response.status_code, self.text(response))
        self._remember(response)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, expect: int | None = None,
             csrf: bool = True, **kwargs: Any) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf())
        response = self.client.post(path, data=form, **kwargs)
        if path.startswith(("/login", "/logout")):
            self.token = None  # a new session, a new token
        if expect is not None:
            assert response.status_code == expect, (response.status_code, self.text(response))
        self._remember(response)
        return response

    def csrf(self) -> str:
        if self.token is None:
            self.get("/")
        assert self.token is not None
        return self.token

    def login(self, username: str, password: str = DEMO_PASSWORD) -> Site:
        response = self.post("/login", {"username": username, "password": password})
        assert response.status_code == 302, self.text(response)
        return self

    def logout(self) -> None:
        self.post("/logout", expect=302)

    @staticmethod
    def text(response: Any) -> str:
        return response.get_data(as_text=True)

    def _remember(self, response: Any) -> None:
        if response.mimetype == "text/html":
            found = CSRF.search(response.get_data(as_text=True))
            if found:
                self.token = found.group(1)
