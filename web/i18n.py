"""Languages of the pages: Bahasa Indonesia by default, English by a remembered switch.

Message ids in code and templates are English. Indonesian lives in gettext catalogs,
`web/translations/id/LC_MESSAGES/*.po`, one file per area of the site (base, public, staff,
supervision, statistics), merged when loaded. The .po files are read directly (compiled in
memory at start), so there is no build step and no binary file in the repository.
Refresh them after changing texts with `scripts/i18n-update`; tests/test_i18n.py fails when
a message has no Indonesian translation.

The domain's and the engine's error messages are message ids too (engine.errors.Message:
`Conflict("task %(task)s is already claimed by %(holder)s", task=..., holder=...)`), in
English for the JSON API and the logs. They are extracted with the pages' messages
(EXTRACT_SOURCES) into `domain.po`, and `say(message)` puts one in the visitor's language,
or in a page's own words for it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import Locale
from babel.dates import format_date, format_time, match_skeleton
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from jinja2 import pass_context
from markupsafe import Markup

from workflows.config import RegencyConfig

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
COOKIE = "aduan_lang"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
OUTSIDE_AN_APP = RegencyConfig()  # whose zone times are in where no app says (scripts)

# Where the messages are (extract_messages): the pages' code and templates, and the message
# ids of the errors the use cases and the engine raise: the first argument of Invalid,
# InvalidInput, Conflict, TaskNotOpen and Message, and N_ marks. (NotFound, Forbidden and
# Unauthenticated are not said on pages: a page shows only its status's title.)
EXTRACT_SOURCES: list[tuple[list[tuple[str, str]], dict[str, Any]]] = [
    ([("web/**.py", "python"), ("web/templates/**.html", "jinja2")],
     {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}),
    ([("workflows/**.py", "python"), ("engine/**.py", "python")],
     {"N_": None, "Message": None, "Invalid": None, "InvalidInput": None, "Conflict": None,
      "TaskNotOpen": None}),
]


def extract_messages(root: Path) -> Iterator[tuple[str, int, str | tuple[str, ...]]]:
    """(file, line, message) for every message to translate, for scripts/i18n-update and
    tests/test_i18n.py."""
    from babel.messages.extract import extract_from_dir

    # Babel warns (on stderr) of each f-string it skips in these calls: such a message stays
    # in English on the pages.
    for method_map, keywords in EXTRACT_SOURCES:
        for filename, lineno, message, _comments, _context in extract_from_dir(
                str(root), method_map, keywords=keywords):
            yield filename, lineno, message


def load_catalog(language: str, directory: Path = TRANSLATIONS_DIR) -> Catalog:
    """Every .po file of a language merged into one catalog (later files win on a clash)."""
    merged = Catalog(locale=language)
    for path in sorted((directory / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id and message.string and not message.fuzzy:
                    merged.add(message.id, message.string)
    return merged


def load_translations(directory: Path = TRANSLATIONS_DIR) -> dict[str, NullTranslations]:
    found: dict[str, NullTranslations] = {"en": NullTranslations()}
    for language in LANGUAGES:
        if language == "en":
            continue
        buffer = io.BytesIO()
        write_mo(buffer, load_catalog(language, directory))
        buffer.seek(0)
        found[language] = Translations(buffer)
    return found


_TRANSLATIONS: dict[str, NullTranslations] = {}


def translations() -> dict[str, NullTranslations]:
    if not _TRANSLATIONS:
        _TRANSLATIONS.update(load_translations())
    return _TRANSLATIONS


# The language of the request being served, set when it begins (init_app): a page asks for
# it hundreds of times (every message, label and date), and a ContextVar answers faster
# than Flask's request globals.
_REQUEST_LANGUAGE: ContextVar[str | None] = ContextVar("aduan_language", default=None)


def current_language() -> str:
    """The visitor's choice (cookie), else the signed-in officer's, else Indonesian."""
    chosen = _REQUEST_LANGUAGE.get()
    if chosen:
        return chosen
    if not has_request_context():  # the CLI, a job, an app context alone: the default
        return DEFAULT_LANGUAGE
    chosen = g.get("language")
    if chosen:
        return chosen
    language = request.cookies.get(COOKIE) or session.get("language") or DEFAULT_LANGUAGE
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    g.language = language
    return language


def gettext(message: str, **variables: Any) -> str:
    text = translations()[current_language()].gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = translations()[current_language()].ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def say(message: str, wording: Mapping[str, str] | None = None) -> str:
    """A use case's or the engine's message (an error's `message`, or a field error) in the
    visitor's language, as a sentence.

    A Message is translated by its id and filled in with its parameters (a parameter that
    is itself a Message, a part of a composite message, in the same language); `wording` maps
    message ids to a page's own words for them (which may use the same parameters). A plain
    str is looked up as it is, and shown as it is when the catalogs do not have it."""
    msgid = getattr(message, "msgid", None) or str(message)
    if wording and msgid in wording:
        return _filled(gettext(wording[msgid]), message)
    template = gettext(msgid)
    text = _filled(template, message)
    if _opens_with_words(template, message):
        text = text[:1].upper() + text[1:]
    if text and text[-1] not in ".!?":
        text += "."
    return text


def _words(value: Any) -> Any:
    """A parameter that is itself a Message (a part of a composite message: "the cell
    %(cell)s %(problem)s") in the visitor's language; any other value as it is."""
    msgid = getattr(value, "msgid", None)
    return _filled(gettext(msgid), value) if msgid else value


def _filled(text: str, message: Any) -> str:
    params = {name: _words(value)
              for name, value in (getattr(message, "params", None) or {}).items()}
    try:
        return text % params if params else text
    except (KeyError, TypeError, ValueError):  # a translation that does not fit: the English
        return str(message)


_OPENING_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _opens_with_words(template: str, message: Any) -> bool:
    """Whether a sentence begins with words of ours (capitalised), not with a value (an id,
    a file name) that must stay as it is."""
    if template[:1].isalpha():
        return True
    opening = _OPENING_PLACEHOLDER.match(template)
    part = (getattr(message, "params", None) or {}).get(opening.group(1)) if opening else None
    return bool(getattr(part, "msgid", None)) and _opens_with_words(gettext(part.msgid), part)


def label(value: Mapping[str, str] | str | None) -> str:
    """A domain label given in both languages ({"id": ..., "en": ...}) in the current one."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(current_language()) or value.get(DEFAULT_LANGUAGE) or next(
        iter(value.values()), "")


def _as_datetime(value: datetime | date | str | None) -> datetime | date | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


# The regency's zone and its label for the request being served, set when it begins
# (init_app): lists format a deadline or two per row, and Flask's app globals cost more than
# the formatting (itself cached) does.
_REQUEST_ZONE: ContextVar[tuple[str, str] | None] = ContextVar("aduan_zone", default=None)


def _zone() -> tuple[str, str]:
    """The regency's time zone and how local times are labelled ("WITA" for
    Asia/Makassar, "WIB" for Asia/Jakarta, "WIT" for Asia/Jayapura, else the zone's own
    abbreviation): the setting (RegencyConfig.timezone) of the app's domain."""
    zone = _REQUEST_ZONE.get()
    if zone is not None:
        return zone
    config = OUTSIDE_AN_APP
    if has_app_context() and "aduan.domain" in current_app.extensions:
        config = current_app.extensions["aduan.domain"].config
    return config.timezone, config.zone_name


def zone() -> tuple[str, str]:
    """The regency's time zone and its label ("Asia/Makassar", "WITA"): what a kept piece
    of a page that writes times is kept by, beside the language."""
    return _zone()


def zone_name() -> str:
    """How the pages name the regency's local time ("WITA"), for sentences such as
    "deadlines count working days in WITA"."""
    return _zone()[1]


# One date format per kind of page: "short" on lists (worklists, the board, the dashboard,
# the studio's and the administration's tables), "long" on the page of one report (the
# case page, the citizen's tracking page and receipt). A template says its kind with
# `{% set date_style = "long" %}` at its top; the filters `when`, `day` and `deadline` read
# it (lists need not say anything). Code that formats for a list passes the style itself.
DATE_STYLES = ("short", "long")
DEFAULT_DATE_STYLE = "short"
DAY_PATTERNS = {"short": "d MMM y", "long": "EEEE, d MMM y"}  # 9 Des 2026 / Rabu, 9 Des 2026


def _style(style: str | None) -> str:
    return style if style in DATE_STYLES else DEFAULT_DATE_STYLE


def _local(moment: datetime, timezone: str) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(timezone))


def format_when(value: datetime | date | str | None, style: str | None = None) -> str:
    """A time in the regency's zone, labelled with it, written for the current language:
    "9 Des 2026 10.05 WITA" (short), "Rabu, 9 Des 2026 10.05 WITA" (long)."""
    timezone, label = _zone()
    return _format_when(value, _style(style), current_language(), timezone, label)


@lru_cache(maxsize=8192)
def _format_when(value: datetime | date | str | None, style: str, locale: str,
                 timezone: str, zone_label: str) -> str:
    # Babel takes tens of microseconds a call; pages write the same times again and again.
    moment = _as_datetime(value)
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        local = _local(moment, timezone)
        found = _babel_locale(locale)
        return (f"{format_date(local.date(), DAY_PATTERNS[style], locale=found)} "
                f"{format_time(local.time(), _clock_pattern(found), locale=found)} "
                f"{zone_label}")
    return format_date(moment, DAY_PATTERNS[style], locale=_babel_locale(locale))


@lru_cache(maxsize=16)
def _babel_locale(code: str) -> Locale:
    """Babel's locale, parsed once: given its code, each of Babel's calls parses it again,
    half of a date's formatting."""
    return Locale.parse(code)


@lru_cache(maxsize=16)
def _clock_pattern(locale: Locale) -> str:
    """The locale's hours and minutes ("HH.mm" in Indonesian, "HH:mm" in English): the
    pattern Babel's format_skeleton("Hm") finds, looked up once."""
    skeletons = locale.datetime_skeletons
    return str(skeletons["Hm" if "Hm" in skeletons else match_skeleton("Hm", skeletons)])


def format_day(value: datetime | date | str | None, style: str | None = None) -> str:
    """The day of a time (in the regency's zone) or a date: "9 Des 2026" (short), "Rabu,
    9 Des 2026" (long)."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = _local(moment, _zone()[0]).date() if moment.tzinfo else moment.date()
    return format_date(moment, DAY_PATTERNS[_style(style)],
                       locale=_babel_locale(current_language()))


def format_deadline(value: datetime | str | None, style: str | None = None,
                    by: bool = True) -> str:
    """A deadline as people say it: "paling lambat Rabu, 9 Des 2026" ("by Wednesday, 9 Dec
    2026"); without `by`, the day alone.

    Working days end at midnight, so a deadline counted in whole working days falls at
    00:00 of the next day; that instant is the end of the day before, and it is written as
    that day, never as the next day's 00.00. A deadline at another time of day (a budget
    started mid-morning) keeps its time: "paling lambat Kamis, 10 Des 2026 10.05 WITA"."""
    timezone, zone_label = _zone()
    return _format_deadline(value, _style(style), by, current_language(), timezone,
                            zone_label)


@lru_cache(maxsize=8192)
def _format_deadline(value: datetime | str | None, style: str, by: bool, locale: str,
                     timezone: str, zone_label: str) -> str:
    # Lists write a deadline or two per row, fifty rows a page: Babel's tens of
    # microseconds a call, every request, were a tenth of the SLA board's time.
    moment = _as_datetime(value)
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        local = _local(moment, timezone)
        if local.time() == datetime.min.time():
            text = format_date(local.date() - timedelta(days=1), DAY_PATTERNS[style],
                               locale=_babel_locale(locale))
        else:
            text = _format_when(local, style, locale, timezone, zone_label)
    else:
        text = format_date(moment, DAY_PATTERNS[style], locale=_babel_locale(locale))
    return translations()[locale].gettext("by %(deadline)s") % {"deadline": text} if by \
        else text


@pass_context
def _when_filter(context: Any, value: Any, style: str | None = None) -> str:
    return format_when(value, style or context.get("date_style"))


@pass_context
def _day_filter(context: Any, value: Any, style: str | None = None) -> str:
    return format_day(value, style or context.get("date_style"))


@pass_context
def _deadline_filter(context: Any, value: Any, by: bool = True) -> str:
    return format_deadline(value, context.get("date_style"), by=by)


def format_number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return _format_number(value, digits, current_language())


@lru_cache(maxsize=8192)
def _format_number(value: float | int, digits: int, locale: str) -> str:
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_babel_locale(locale))


@lru_cache(maxsize=4096)
def _template_message(catalog: NullTranslations, message: str, autoescape: bool) -> Any:
    """A message as Jinja's "newstyle" gettext makes it: translated, Markup where the
    template escapes, and always %-formatted (so "%%" reads "%" with no variables too)."""
    text = catalog.gettext(message)
    return Markup(text) if autoescape else text


@pass_context
def _template_gettext(context: Any, message: str, **variables: Any) -> Any:
    """`_()` and `gettext()` in templates: what Jinja's newstyle gettext gives (the
    message translated, formatted with its variables escaped where the template escapes),
    without its two indirect calls per message, and with a message without variables
    formatted once per catalog (pages write dozens of them per request)."""
    autoescape = context.eval_ctx.autoescape
    catalog = translations()[current_language()]
    if variables:
        return _template_message(catalog, message, autoescape) % variables
    return _template_plain(catalog, message, autoescape)


@lru_cache(maxsize=4096)
def _template_plain(catalog: NullTranslations, message: str, autoescape: bool) -> Any:
    return _template_message(catalog, message, autoescape) % {}


def init_app(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # Jinja's "newstyle" gettext does the %(name)s formatting (escaping-aware) itself.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: translations()[current_language()].gettext(message),
        lambda singular, plural, n: translations()[current_language()].ngettext(
            singular, plural, n), newstyle=True)
    # ... and this one the same, faster (the i18n extension's `_` calls `gettext`)
    app.jinja_env.globals.update(gettext=_template_gettext, _=_template_gettext)
    app.jinja_env.filters.update(label=label, when=_when_filter, day=_day_filter,
                                 deadline=_deadline_filter, number=format_number)
    app.jinja_env.globals.update(current_language=current_language, LANGUAGES=LANGUAGES,
                                 zone_name=zone_name)

    @app.before_request
    def request_language() -> None:
        g.aduan_language_token = _REQUEST_LANGUAGE.set(None)
        _REQUEST_LANGUAGE.set(current_language())
        g.aduan_zone_token = _REQUEST_ZONE.set(None)
        _REQUEST_ZONE.set(_zone())

    @app.teardown_request
    def end_request_language(_exc: BaseException | None) -> None:
        token = g.pop("aduan_language_token", None)
        if token is not None:
            _REQUEST_LANGUAGE.reset(token)
        token = g.pop("aduan_zone_token", None)
        if token is not None:
            _REQUEST_ZONE.reset(token)

    @app.after_request
    def content_language(response: Any) -> Any:
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Language", current_language())
        return response

