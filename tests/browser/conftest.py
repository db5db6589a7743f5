"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium), never a browser
that a test tool downloads. `make test` installs it first (scripts/ensure-chromium).

Fixtures:
- `browser` (session): one headless Chromium for the whole run.
- `page`, `phone_page` (a 390x844 touch screen), `make_page(**context options)`: a fresh
  context per page. Each records console errors, uncaught page errors and every request to a
  host other than this machine (those are aborted); the test FAILS if any happened, unless it
  is marked `@pytest.mark.browser_allow("console_errors", "external_requests")` (either).
- `screenshot(page, name)`: saves tests/artifacts/<test>/<nn>-<name>.png.
- `doc_screenshot(page, name)`: the screenshots of the guides, docs/images/<name>.png (the
  page's viewport, 1280x800), written only when ADUAN_DOC_SCREENSHOTS=1: normal runs leave the
  committed images alone.
- `static_server`: web/static at /static/, tests/browser/harness at /harness/ and a directory
  the tests write (`static_server.generated`) at /generated/, over real HTTP on 127.0.0.1 (a
  thread), with the Content-Security-Policy in STRICT_CSP; /echo answers any GET or POST and
  /tiles/{z}/{x}/{y}.png serves a map tile (HarnessHandler). Pages named studio*.html get
  STUDIO_CSP instead (the studio's policy). One server for the session;
  its request log (`requests`, `recorded(path)`) starts empty in each test.

Every test under tests/browser/ carries the `browser` marker. Without Chromium these tests
are skipped, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import pytest

from web.app import studio_content_security_policy

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "tests" / "artifacts"
DOC_IMAGES = ROOT / "docs" / "images"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # Without these Chromium calls home, and this closed network refuses the connections.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 10_000
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

# What the harness serves: stricter than the application's policy (no inline styles at all),
# so the widgets are shown to need none.
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
              "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
              "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# The studio's pages (harness pages named studio*.html): the strict policy with the modelers'
# style attributes allowed by hash, as the application serves /studio (web/app.py).
STUDIO_CSP = studio_content_security_policy(STRICT_CSP)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


# Werkzeug's development server (tests/browser/live.py) skips closing a response's file when
# the browser drops the connection while it is sent (a favicon or a stylesheet abandoned by a
# navigation): the closing sits in a `finally` after a statement that fails on the dead
# socket. The file is closed by the garbage collector, which says so as a ResourceWarning,
# and the suite turns warnings into errors. Only that warning, about only our static files,
# is let through; the product is served by gunicorn (web/gunicorn_conf.py).
DROPPED_STATIC_FILE = (
    r"ignore:Exception ignored in. <_io\.FileIO name='[^']*/web/static/"
    r":pytest.PytestUnraisableExceptionWarning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.filterwarnings(DROPPED_STATIC_FILE))


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing: scripts/ensure-chromium installs it (make test does)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            problem = "playwright is not installed: pip install -e '.[test]'"
    if problem:
        if in_ci():
            pytest.fail(f"browser tests cannot run under CI: {problem}", pytrace=False)
        pytest.skip(problem)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True  # data:, blob:, about: never leave the machine
    return parts.hostname in LOCAL_HOSTS


@dataclass
class Watch:
    """What went wrong in one page's context, to fail the test with."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    def problems(self, allowed: set[str]) -> list[str]:
        # Let events the browser already sent arrive; a closed page has nothing more to say.
        with contextlib.suppress(Exception):
            self.page.evaluate("0")
        found = []
        if "console_errors" not in allowed:
            found += [f"console error: {text}" for text in self.console_errors]
        if "external_requests" not in allowed:
            found += [f"request to another host: {url}" for url in self.external_requests]
        return found


WATCHES = pytest.StashKey[list[Watch]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield
    allowed = {kind for mark in item.iter_markers("browser_allow") for kind in mark.args}
    unknown = allowed - {"console_errors", "external_requests"}
    if unknown:
        pytest.fail(f"browser_allow: unknown {sorted(unknown)}", pytrace=False)
    problems = [p for watch in item.stash.get(WATCHES, []) for p in watch.problems(allowed)]
    if problems:
        pytest.fail("the page misbehaved:\n" + "\n".join(problems), pytrace=False)
    return result


@pytest.fixture
def make_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """new_page(**options): a page in a new context (options as Browser.new_context)."""
    contexts: list[Any] = []
    watches = request.node.stash.setdefault(WATCHES, [])

    def new_page(**options: Any) -> Any:
        options = {"viewport": {"width": 1280, "height": 800}, "locale": "id-ID",
                   "timezone_id": "Asia/Makassar", **options}
        context = browser.new_context(**options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        watch = Watch(page)
        watches.append(watch)

        def on_console(message: Any) -> None:
            if message.type == "error":
                location = message.location or {}
                watch.console_errors.append(f"{message.text} ({location.get('url', '?')})")

        def block(route: Any) -> None:
            watch.external_requests.append(route.request.url)
            route.abort()

        page.on("console", on_console)
        page.on("pageerror", lambda error: watch.console_errors.append(f"uncaught: {error}"))
        context.route(lambda url: not is_local(url), block)
        return page

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(make_page: Callable[..., Any]) -> Any:
    return make_page()


@pytest.fixture
def phone_page(make_page: Callable[..., Any]) -> Any:
    return make_page(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                     is_mobile=True, has_touch=True)


def safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """screenshot(page, name) -> tests/artifacts/<test name>/<nn>-<name>.png."""
    directory = ARTIFACTS / safe_name(request.node.name)
    shutil.rmtree(directory, ignore_errors=True)
    numbers = itertools.count(1)

    def take(page: Any, name: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{next(numbers):02d}-{safe_name(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def doc_screenshots_wanted() -> bool:
    return os.environ.get("ADUAN_DOC_SCREENSHOTS", "").strip() == "1"


@pytest.fixture
def doc_screenshot() -> Callable[..., Path | None]:
    """doc_screenshot(page, name, part=None) -> docs/images/<name>.png, or None when
    ADUAN_DOC_SCREENSHOTS=1 is not set. The visible part of the page (the viewport), or the
    element `part` (a locator) whole, so an image stays small and shows what a reader sees."""
    def take(page: Any, name: str, part: Any = None) -> Path | None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            raise ValueError(f"doc_screenshot: {name!r}: lower-case letters, digits and -")
        if not doc_screenshots_wanted():
            return None
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        path = DOC_IMAGES / f"{name}.png"
        if part is not None:
            part.screenshot(path=str(path))
        else:
            page.screenshot(path=str(path), full_page=False)
        return path

    return take


# --------------------------------------------------------------------------- static server


def png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    """A PNG image (RGB, 8 bits), without an imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width))
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


# A pale tile with a darker edge: tiles show as a grid, so a screenshot shows them loaded.
TILE = png(256, 256, lambda x, y: (150, 180, 150) if x < 2 or y < 2 else (222, 236, 222))


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: str


class HarnessServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, generated: Path) -> None:
        super().__init__(("127.0.0.1", 0), HarnessHandler)
        self.roots = {"/static/": ROOT / "web" / "static", "/harness/": HERE / "harness",
                      "/generated/": generated}
        self.generated = generated
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def recorded(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]


class HarnessHandler(SimpleHTTPRequestHandler):
    server: HarnessServer
    extensions_map: ClassVar[dict[str, str]] = {**SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript", ".json": "application/json", ".woff2": "font/woff2"}

    def translate_path(self, path: str) -> str:
        path = unquote(urlsplit(path).path)
        for prefix, root in self.server.roots.items():
            if path.startswith(prefix):
                target = (root / path[len(prefix):]).resolve()
                if target == root.resolve() or root.resolve() in target.parents:
                    return str(target)
        return str(HERE / "harness" / "__not-served__")

    def end_headers(self) -> None:
        studio = Path(urlsplit(self.path).path).name.startswith("studio")
        self.send_header("Content-Security-Policy", STUDIO_CSP if studio else STRICT_CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def list_directory(self, path: Any) -> None:
        self.send_error(404)

    def record(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        entry = Recorded(self.command, self.path, dict(self.headers.items()), body)
        with self.server.lock:
            self.server.requests.append(entry)
        return entry

    def answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def echo(self) -> None:
        entry = self.record()
        text = (f"{entry.method} {entry.path} X-CSRFToken="
                f"{entry.headers.get('X-CSRFToken', '-')} body={entry.body}")
        html = f'<output id="echo">{escape(text)}</output>'
        if entry.headers.get("HX-Request") != "true":
            html = (f'<!doctype html><html lang="id"><head><meta charset="utf-8">'
                    f'<link rel="icon" href="data:,"><title>echo</title></head>'
                    f"<body>{html}</body></html>")
        self.answer(200, "text/html; charset=utf-8", html.encode())

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/echo":
            self.echo()
        elif re.fullmatch(r"/tiles/\d+/\d+/\d+\.png", path):
            self.record()
            self.answer(200, "image/png", TILE)
        else:
            super().do_GET()

    def do_POST(self) -> None:
        if urlsplit(self.path).path == "/echo":
            self.echo()
        else:
            self.send_error(405)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def harness_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessServer]:
    server = HarnessServer(tmp_path_factory.mktemp("generated"))
    thread = threading.Thread(target=server.serve_forever, name="harness-http", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def static_server(harness_server: HarnessServer) -> HarnessServer:
    """The session's harness server, with an empty request log for this test."""
    with harness_server.lock:
        harness_server.requests.clear()
    return harness_server
