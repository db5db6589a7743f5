"""Flask application factory: the JSON API, error mapping, and the embedded scheduler."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from engine import Engine
from engine.store import transient_failure
from web import auth, i18n, metrics, open311, sms, whatsapp
from web.api import api, unauthenticated_response
from web.config import Settings
from web.notifications import build_sender
from web.scheduler import start_embedded_scheduler
from workflows.config import RegencyConfig
from workflows.domain import Domain
from workflows.errors import DomainError, Invalid, NotFound, Unauthenticated
from workflows.images import Decoder
from workflows.storage import Storage

log = logging.getLogger(__name__)


def build_domain(settings: Settings, engine: Engine | None = None) -> Domain:
    """The engine and the complaint use cases over it, as configured."""
    engine = engine or settings.make_engine()
    config = RegencyConfig(tracking_prefix=settings.tracking_prefix, ladder=settings.ladder,
                           rung_budget_days=settings.rung_budget_days,
                           postpone_max_days=settings.postpone_max_days,
                           timezone=settings.timezone, public_url=settings.public_url,
                           reply_channels=settings.reply_channels(),
                           whatsapp_graph_url=settings.whatsapp_graph_url,
                           whatsapp_token=settings.whatsapp_token,
                           whatsapp_conversation_hours=settings.whatsapp_conversation_hours)
    decoder = Decoder(settings.photo_max_megapixels, settings.photo_decode_slots)
    storage = Storage(Path(settings.upload_dir), config.max_attachment_bytes, decoder)
    return Domain(engine, config, storage, settings.passwords(),
                  scratch_dir=Path(settings.scratch_dir))


def create_app(settings: Settings | None = None, engine: Engine | None = None,
               start_scheduler: bool = False, domain: Domain | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    if settings.proxy_hops:
        # The client's address and scheme as the proxies saw them: sign-in limits count per
        # address, and secure cookies need to know the request came over HTTPS. Only as many
        # X-Forwarded-For entries as there are proxies: the rest a client could have forged.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore
    app.config["SECRET_KEY"] = settings.secret_key or stored_secret_key(
        Path(settings.upload_dir).parent / "secret_key")
    app.config.update(
        SESSION_COOKIE_NAME="aduan_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=auth.SESSION_HOURS),
        # The server ends a session SESSION_HOURS after sign-in whatever the cookie says
        # (workflows/sessions.py), so the cookie set then lasts exactly as long: signing
        # and sending it again on every page (Flask's default) would move nothing. It is
        # still sent whenever the session changes (a CSRF token, a message, the language).
        SESSION_REFRESH_EACH_REQUEST=False)
    app.json.ensure_ascii = False
    domain = domain or build_domain(settings, engine)
    # A request may carry the most attachments a report allows plus the form (413 beyond).
    app.config["MAX_CONTENT_LENGTH"] = max_request_bytes(domain.config)
    app.extensions["aduan.domain"] = domain
    app.extensions["aduan.settings"] = settings
    from web.pages import pages

    i18n.init_app(app)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(open311.blueprint)
    app.register_blueprint(sms.blueprint)
    app.register_blueprint(whatsapp.blueprint)
    app.register_blueprint(pages)
    app.before_request(refuse_nul_in_url)
    app.before_request(auth.check_csrf)

    @app.before_request
    def one_read_unit() -> None:
        # A GET's reads share one session and transaction (engine/store.Store.shared_reads).
        if request.method in ("GET", "HEAD"):
            unit = domain.context.shared_reads()
            unit.__enter__()
            g.aduan_read_unit = unit

    @app.teardown_request
    def end_read_unit(_exc: BaseException | None) -> None:
        unit = g.pop("aduan_read_unit", None)
        if unit is not None:
            unit.__exit__(None, None, None)

    app.jinja_env.globals["csrf_token"] = auth.csrf_token
    app.jinja_env.globals["url_for"] = templates_url_for(app)
    register_error_handlers(app)
    csp = content_security_policy(settings)
    studio_csp = studio_content_security_policy(csp)

    @app.get("/favicon.ico")
    def favicon() -> Any:  # browsers ask for it whatever the page says
        return app.send_static_file("favicon.svg")

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", studio_csp if is_studio_page(
            request.path) else csp)
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.get("/metrics")
    def prometheus_metrics() -> Any:
        return Response(metrics.exposition(metrics_collector(domain)),
                        mimetype="text/plain; version=0.0.4")

    if start_scheduler:
        app.extensions["aduan.scheduler"] = start_embedded_scheduler(
            domain, settings, sender=build_sender(settings, domain))
    return app


def templates_url_for(app: Flask) -> Any:
    """The templates' url_for: a static file's address kept per process (by the site's
    address on this server and the file), since the layout and the case page ask for fifteen
    on every page and each costs Werkzeug a build; any other address built as Flask does."""
    build = app.jinja_env.globals["url_for"]
    static: dict[tuple[str, str], str] = {}

    def url_for(endpoint: str, **values: Any) -> str:
        if endpoint != "static" or len(values) != 1 or "filename" not in values:
            return build(endpoint, **values)
        key = (request.script_root, values["filename"])
        found = static.get(key)
        if found is None:
            found = static[key] = build(endpoint, **values)
        return found

    return url_for


# Room in a request for what is not a file: the typed text and the multipart framing.
FORM_ALLOWANCE_BYTES = 5 * 1024 * 1024


def max_request_bytes(config: RegencyConfig) -> int:
    """MAX_CONTENT_LENGTH: every attachment a report may have, each of the largest size,
    plus the form (55 MB with the defaults: 5 files of 10 MB)."""
    return config.max_attachments * config.max_attachment_bytes + FORM_ALLOWANCE_BYTES


def stored_secret_key(path: Path) -> str:
    """The key that signs sessions when ADUAN_SECRET_KEY is not set: made once and kept in
    the instance folder (mode 0600), so restarts and several processes on this machine share
    it. Several machines must share ADUAN_SECRET_KEY instead."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32).hex()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    return key


def content_security_policy(settings: Settings) -> str:
    """Scripts and styles only from this site (nothing inline; Leaflet and bpmn-js set styles
    through the DOM, which the policy allows); map tiles from the tile server, if any."""
    images = "'self' data: blob:"
    if settings.tile_url:
        parts = urlsplit(settings.tile_url.replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in settings.tile_url else (
            parts.netloc)
        images += f" {parts.scheme}://{host}"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {images}; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


# The style attributes that the studio's modeler libraries write in their markup (bpmn-js,
# dmn-js and the properties panel build some elements from HTML strings, which the browser
# parses under the policy). Studio pages allow exactly these texts, by their sha256
# (`'unsafe-hashes'` lets a hash match a style attribute), and no other inline style; scripts
# stay files only. tests/test_vendor.py checks each is still in vendor/studio/studio.js.
STUDIO_STYLE_ATTRIBUTES = (
    # bpmn.io's watermark, which its licence requires visible: the link's place, the logo's line
    "position: absolute; bottom: 15px; right: 15px; z-index: 100;",
    "vertical-align:middle",
    "height: 100%",  # the properties panel's container of its expression pop-up
    "flex: none; height: auto",  # dmn-js: a decision table's layout
)


def is_studio_page(path: str) -> bool:
    return path == "/studio" or path.startswith("/studio/")


def studio_content_security_policy(csp: str) -> str:
    """The policy of the studio's pages: the site's, with the modelers' style attributes
    (STUDIO_STYLE_ATTRIBUTES) allowed; nothing else is relaxed (docs/security.md)."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
        for text in STUDIO_STYLE_ATTRIBUTES)
    return csp.replace("style-src 'self';", f"style-src 'self' 'unsafe-hashes' {hashes};", 1)


def metrics_collector(domain: Domain) -> metrics.DatabaseCollector:
    return metrics.DatabaseCollector(domain.operations.status,
                                     domain.operations.escalation_counts)


def refuse_nul_in_url() -> None:
    """A NUL character in the path names nothing: 404 saying which part, on both databases
    (PostgreSQL cannot even compare text holding one). Werkzeug already decodes the URL as
    UTF-8 with replacement, so no lone surrogate gets this far. Query parameters: the API
    checks them against its document (web/openapi.py), the pages drop control characters."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and "\x00" in value:
            raise NotFound("no %(what)s holds a NUL character (%%00)", what=name)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == (
        "application/json")


# What a page says for each status; the detail is shown only where it helps the visitor.
ERROR_TITLES = {
    400: i18n.N_("The request could not be understood."),
    401: i18n.N_("Please sign in."),
    403: i18n.N_("You may not open this page."),
    404: i18n.N_("This page or report does not exist."),
    405: i18n.N_("This page does not accept that request."),
    409: i18n.N_("Someone else changed this report at the same time."),
    422: i18n.N_("Some fields need your attention."),
    429: i18n.N_("Too many attempts. Please wait and try again."),
    500: i18n.N_("Something went wrong on our side. It has been logged."),
}


# A refused CSRF check (web/auth.check_csrf): an expired form, or a session cookie that the
# browser dropped because the site is served over plain HTTP while cookies are Secure.
CSRF_WORDS = {
    "csrf": (i18n.N_("The form has expired. Go back, reload the page and try again."), ""),
    "csrf_http": (
        i18n.N_("Your browser did not keep this site's session cookie, because the site is "
                "served over plain HTTP (without HTTPS). Reloading the page will not help."),
        i18n.N_("Open the site by https:// instead. On a closed network without HTTPS, the "
                "administrator can set ADUAN_COOKIE_SECURE=0 and restart Aduan."),
    ),
}


# A write the database refused for another transaction's sake (a deadlock, a lock not
# granted: engine.store.transient_failure): nothing of it was kept.
AT_THE_SAME_MOMENT = i18n.N_("Someone else was saving a change to the same records at the same "
                             "moment, so nothing of yours was saved. Send it again.")


def error_page(status: int, detail: str = "") -> Any:
    """The error page; `detail` (already in the visitor's language) is shown for 409 only:
    it says what changed. Other details could reveal what a 403 or 404 hides. A refused
    CSRF check ("csrf", "csrf_http") says why and what to do (CSRF_WORDS)."""
    title = i18n.gettext(ERROR_TITLES.get(status, ERROR_TITLES[400]))
    shown = detail if status in (409,) else ""
    if detail in CSRF_WORDS:
        title, advice = CSRF_WORDS[detail]
        title, shown = i18n.gettext(title), i18n.gettext(advice) if advice else ""
    return render_template("error.html", status=status, title=title, detail=shown), status


def register_error_handlers(app: Flask) -> None:
    """One place maps errors to HTTP: domain errors by kind, never a 500 for bad input."""

    @app.errorhandler(Unauthenticated)
    def unauthenticated(exc: Unauthenticated) -> Any:
        return unauthenticated_response(exc)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        if not _wants_json():  # the message in the visitor's language (web/i18n.say)
            return error_page(exc.status, i18n.say(exc.message))
        body: dict[str, Any] = {"message": str(exc)}
        if isinstance(exc, Invalid) and exc.field_errors:
            body["field_errors"] = exc.field_errors
        return jsonify(error=body), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not _wants_json():  # werkzeug's descriptions are English: only our csrf marker
            return error_page(exc.code or 500,
                              exc.description if exc.description in CSRF_WORDS else "")
        message = {404: "no such endpoint; see /api/v1/openapi.json",
                   405: f"{request.method} is not allowed here",
                   413: "the request is too large: at most 5 attachments of 10 MB"}.get(
            exc.code or 500, exc.description or exc.name)
        if exc.description in CSRF_WORDS:  # a page's form posted for JSON: say it in words
            message = " ".join(filter(None, CSRF_WORDS[exc.description]))
        return jsonify(error={"message": message}), exc.code

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Any:
        # Pages: say which limits apply and that Back keeps the typed text
        # (web/pages/common.upload_too_large); the API keeps its own message.
        if _wants_json():
            return http_error(exc)
        from web.pages.common import upload_too_large

        return upload_too_large()

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        if transient_failure(exc):  # another transaction's locks: void, and may be sent again
            log.warning("%s %s met another transaction: %s", request.method, request.path, exc)
            words = i18n.gettext(AT_THE_SAME_MOMENT)
            answer = error_page(409, words) if not _wants_json() else (
                jsonify(error={"message": AT_THE_SAME_MOMENT}), 409)
            response = app.make_response(answer)
            response.headers["Retry-After"] = "1"
            return response
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json():
            return error_page(500, "")
        return jsonify(error={"message": "internal error; it has been logged"}), 500
