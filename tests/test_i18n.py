"""Every message of the pages has its Indonesian words, and keeps its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from web.i18n import TRANSLATIONS_DIR, extract_messages, load_catalog, load_translations

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sr]|\{(\w+)\}")


def extracted() -> dict[str, str]:
    """Every message id: the pages' texts and the use cases' and engine's error messages."""
    found = {}
    for filename, lineno, message in extract_messages(ROOT):
        key = message if isinstance(message, str) else message[0]
        found.setdefault(key, f"{filename}:{lineno}")
    return found


def test_every_message_has_an_indonesian_translation():
    catalog = load_catalog("id")
    missing = {key: where for key, where in extracted().items() if key not in catalog}
    assert not missing, ("untranslated (run scripts/i18n-update, then translate): "
                         f"{missing}")


def test_translations_keep_their_placeholders():
    for path in (TRANSLATIONS_DIR / "id" / "LC_MESSAGES").glob("*.po"):
        with path.open("rb") as handle:
            for message in read_po(handle, locale="id"):
                if not message.id or not message.string:
                    continue
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (
                    message.string,)
                wanted = set(PLACEHOLDER.findall(ids[0]))
                for text in strings:
                    assert set(PLACEHOLDER.findall(text)) == wanted, (path.name, message.id)


def test_catalogs_load_and_translate():
    words = load_translations()
    assert words["id"].gettext("Sign in") == "Masuk"
    assert words["en"].gettext("Sign in") == "Sign in"


def domain_message_ids() -> set[str]:
    return {message if isinstance(message, str) else message[0]
            for filename, _line, message in extract_messages(ROOT)
            if filename.startswith(("workflows/", "engine/"))}


def test_the_pages_own_words_are_keyed_by_message_ids_the_use_cases_use():
    """A page's wording for a use case's message is found by the message's id: an id that
    the use cases no longer use would silently fall back to the generic translation."""
    from web.pages import case, public, staff

    known = domain_message_ids()
    for table in (public.FILE_WORDS, case.FIELD_WORDS, case.CONFLICT_WORDS,
                  staff.CLAIM_WORDS):
        assert set(table) <= known, set(table) - known


def test_a_message_keeps_the_apis_english_and_is_said_by_its_id():
    import json

    from web.i18n import say
    from workflows.errors import Conflict, Invalid, Message

    exc = Conflict("task %(task)s is already claimed by %(holder)s", task="t-1", holder="budi")
    assert str(exc) == "task t-1 is already claimed by budi"  # what the API says
    assert exc.message.msgid == "task %(task)s is already claimed by %(holder)s"
    assert say(exc.message) == "Tugas t-1 sudah diambil oleh budi."  # Indonesian by default
    own = {exc.message.msgid: "%(holder)s claimed this task first."}
    assert say(exc.message, own) == "budi sudah lebih dulu mengambil tugas ini."
    assert say(Conflict(exc.message).message) == say(exc.message)  # re-raised, same id
    # Field errors are str for JSON; a plain str is looked up as it is.
    invalid = Invalid("the report has errors", {"title": Message(
        "at least %(limit)s characters", limit=5)})
    assert json.dumps(invalid.field_errors) == '{"title": "at least 5 characters"}'
    assert say(invalid.field_errors["title"]) == "Paling sedikit 5 karakter."
    assert say("no catalog has these words") == "No catalog has these words."


def test_times_are_shown_in_the_regencys_zone_and_named_after_it():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from flask import Flask

    from web.i18n import format_when
    from workflows.config import RegencyConfig

    assert [RegencyConfig(timezone=zone).zone_name for zone in (
        "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "Europe/Amsterdam")] == [
        "WIB", "WITA", "WIT", "CET"]
    app = Flask(__name__)
    moment = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for zone, shown in (("Asia/Jakarta", "2 Mar 2026 08.00 WIB"),
                        ("Asia/Makassar", "2 Mar 2026 09.00 WITA")):
        app.extensions["aduan.domain"] = SimpleNamespace(config=RegencyConfig(timezone=zone))
        with app.test_request_context("/"):
            assert format_when(moment) == shown


def test_an_engine_finding_made_of_parts_is_said_with_each_part_in_the_visitors_language():
    """A finding that embeds other messages (what does not compile, and why) translates
    each part; Python's own words are quoted as they are, in any language."""
    from datetime import UTC, datetime

    from flask import Flask

    from engine import SourceFile
    from engine.definitions import parse_unit
    from engine.sandbox import Sandbox
    from tests.diagram import linear, script_task
    from web.i18n import COOKIE, say

    def findings_of(script: str) -> list:
        unit = parse_unit([SourceFile("s.bpmn", linear("s", script_task("work", script)))],
                          Sandbox(), now=datetime(2026, 3, 2, tzinfo=UTC))
        return [f.message for f in unit.findings if f.rule is None]  # not lint's warnings

    [refused] = findings_of("import os")
    [broken] = findings_of("x = (")
    assert str(refused) == ("script does not compile: imports are not allowed in diagram code "
                            "(line 1); correct the script")  # the API's English, as before
    assert say(refused) == ("Skrip tidak dapat dikompilasi: impor tidak diizinkan dalam kode "
                            "diagram (baris 1); perbaiki skripnya.")
    python_says = str(broken).split("does not compile: ", 1)[1].split(" (line")[0]
    assert say(broken) == (f"Skrip tidak dapat dikompilasi: {python_says} (baris 1); "
                           "perbaiki skripnya.")
    app = Flask(__name__)
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}=en"}):
        assert say(refused) == str(refused)[:1].upper() + str(refused)[1:] + "."
        assert say(broken) == str(broken)[:1].upper() + str(broken)[1:] + "."


def test_templates_messages_read_as_with_jinjas_own_newstyle_gettext():
    """The pages' `_()` (web.i18n._template_gettext, faster) writes what Jinja's newstyle
    gettext writes: translated in the request's language, variables escaped where the
    template escapes, and always %-formatted ("%%" reads "%" without variables too)."""
    from flask import Flask, g, render_template_string
    from jinja2 import Environment

    from web.i18n import init_app, translations

    app = Flask(__name__)
    init_app(app)
    sources = ['{{ _("Sign in") }}', '{{ gettext("Sign in") }}', '{{ _("100%% sure") }}',
               '{{ _("Claimed by %(name)s", name=who) }}',
               '{% trans %}Sign in{% endtrans %}',
               '{% trans name=who %}Claimed by {{ name }}{% endtrans %}']
    who = '<b>"Budi" & co</b>'
    for language in ("id", "en"):
        for autoescape in (True, False):
            reference = Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)
            reference.install_gettext_callables(  # type: ignore[attr-defined]
                translations()[language].gettext, translations()[language].ngettext,
                newstyle=True)
            app.jinja_env.autoescape = autoescape
            with app.test_request_context("/"):
                g.language = language
                for source in sources:
                    shown = render_template_string(source, who=who)
                    assert shown == reference.from_string(source).render(who=who), (
                        language, autoescape, source)
            with app.test_request_context("/"):
                g.language = language
                assert render_template_string(sources[0]) == (
                    "Masuk" if language == "id" else "Sign in")
                if autoescape:
                    assert "&lt;b&gt;" in render_template_string(sources[3], who=who)


def test_times_read_as_babels_own_general_formatting():
    """web.i18n formats times with Babel's locales parsed once and the clock's pattern
    looked up once: the same words as Babel's general calls (format_date, format_skeleton
    "Hm") given the language's code, for times all over the year and the day."""
    import random
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from babel.dates import format_date, format_skeleton

    from web.i18n import DAY_PATTERNS, _format_deadline, _format_when

    rng = random.Random(5)
    zone = "Asia/Makassar"
    for _ in range(300):
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
            minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        local = moment.astimezone(ZoneInfo(zone))
        for language in ("id", "en"):
            for style in ("short", "long"):
                expected = (f"{format_date(local.date(), DAY_PATTERNS[style], locale=language)}"
                            f" {format_skeleton('Hm', local, locale=language, tzinfo=local.tzinfo)}"
                            " WITA")
                assert _format_when(moment, style, language, zone, "WITA") == expected
                assert _format_deadline(moment, style, False, language, zone, "WITA") == (
                    expected if local.time() != datetime.min.time() else format_date(
                        local.date() - timedelta(days=1), DAY_PATTERNS[style],
                        locale=language))
