"""Every message of the pages has its Indonesian words, and keeps its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from web.i18n import TRANSLATIONS_DIR, load_catalog, load_translations

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> dict[str, str]:
    found = {}
    method_map = [("web/**.py", "python"), ("web/templates/**.html", "jinja2")]
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords={"_": None, "gettext": None, "N_": None,
                                             "ngettext": (1, 2)}):
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
