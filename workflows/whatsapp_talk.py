"""The WhatsApp conversation, as a state machine without I/O (workflows/whatsapp.py runs it
against the database): given where a citizen's conversation stands, the message they sent
and their open reports, what to answer, what the conversation becomes, and what to do.

Steps (docs/channels.md, "WhatsApp"):

    idle --text of 10+ letters--> where --location or address--> photos --LANJUT--> confirm
    idle --greeting--> what --what happened--> where (or photos when the location is known)
    confirm --YA--> (the report is filed) idle;  UBAH --> what;  BATAL (any step) --> idle
    idle --text, with open reports--> choose --BARU--> where;  --INFO--> the report

A location or a photo is taken at any step; a text sent before the last one processed
(WhatsApp delivered it late) is added to the story instead of being read as an answer. A
citizen whose report waits for their information answers it by simply writing (or sending
a photo). `INFO <number> <text>`, `CEK [number]`, `BANTUAN`, `ENGLISH` / `INDONESIA` work
at any step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

STEPS = ("idle", "what", "where", "photos", "confirm", "choose", "filing")
MIN_STORY = 10  # letters of "what happened", as on the web form
MIN_ADDRESS = 3
BODY_LIMIT = 5000

KEYWORDS = {
    "cancel": {"BATAL", "CANCEL", "STOP"},
    "yes": {"YA", "YES", "KIRIM", "SEND", "OK", "Y"},
    "next": {"LANJUT", "SELESAI", "NEXT", "DONE", "TIDAK", "NO", "SKIP", "LEWATI"},
    "edit": {"UBAH", "EDIT", "CHANGE"},
    "new": {"BARU", "LAPOR", "NEW", "REPORT"},
    "info": {"INFO"},
    "status": {"CEK", "STATUS", "CHECK"},
    "unfollow": {"BERHENTI", "UNFOLLOW"},
    "help": {"BANTUAN", "HELP", "MENU", "?"},
    "en": {"ENGLISH", "INGGRIS", "EN"},
    "id": {"INDONESIA", "BAHASA", "ID"},
}
WORDS: dict[str, dict[str, str]] = {
    "id": {
        "welcome": "Halo! Ini layanan pengaduan {regency}. Ceritakan apa yang terjadi "
                   "(paling sedikit 10 huruf). Ketik BATAL kapan saja untuk membatalkan, "
                   "ENGLISH for English.",
        "ask_what": "Ceritakan apa yang terjadi (paling sedikit 10 huruf).",
        "too_short": "Ceritanya terlalu pendek. Tulis apa yang terjadi, paling sedikit 10 "
                     "huruf.",
        "ask_where": "Di mana lokasinya? Kirim lokasi (tombol lampiran, lalu Lokasi) atau "
                     "ketik alamat dan kelurahan.",
        "ask_photos": "Ada foto? Kirim fotonya sekarang (paling banyak {max}), atau ketik "
                      "LANJUT.",
        "photo_taken": "Foto diterima ({count} dari paling banyak {max}).",
        "more_photos": "Foto diterima ({count} dari paling banyak {max}). Kirim foto lain, "
                       "atau ketik LANJUT.",
        "photo_full": "Sudah {max} foto: foto berikutnya tidak kami simpan.",
        "location_taken": "Lokasi diterima.",
        "added": "Pesan Anda kami tambahkan ke cerita laporan.",
        "summary": "Ringkasan laporan Anda:\nApa: {body}\nDi mana: {where}\nFoto: {photos}\n"
                   "Balas YA untuk mengirim, UBAH untuk mengubah cerita, atau BATAL untuk "
                   "membatalkan.",
        "confirm_hint": "Balas YA untuk mengirim laporan, UBAH untuk mengubah cerita, atau "
                        "BATAL untuk membatalkan.",
        "no_place": "(belum ada)",
        "point": "titik {lat:.5f}, {lon:.5f}",
        "cancelled": "Laporan dibatalkan; tidak ada yang kami simpan. Kirim pesan apa saja "
                     "untuk memulai lagi.",
        "nothing_to_cancel": "Tidak ada laporan yang sedang Anda tulis.",
        "choose": "Anda punya laporan yang masih berjalan: {reports}. Balas BARU untuk "
                  "membuat laporan baru dari pesan Anda, atau INFO untuk menambahkannya ke "
                  "laporan {latest}.",
        "help": "Layanan pengaduan {regency} lewat WhatsApp. Tulis apa yang terjadi untuk "
                "membuat laporan. CEK: status laporan Anda. INFO <nomor> <pesan>: tambahan "
                "untuk laporan Anda. BATAL: batalkan laporan yang sedang ditulis. "
                "ENGLISH: English.",
        "unsupported": "Maaf, kami hanya dapat membaca teks, foto, dan lokasi.",
        "info_usage": "Tulis: INFO <nomor laporan> <informasi tambahan>.",
        "unfollow_usage": "Tulis: BERHENTI <nomor laporan yang Anda ikuti>.",
        "busy": "Laporan Anda sedang kami kirim, mohon tunggu sebentar.",
    },
    "en": {
        "welcome": "Hello! This is the complaints service of {regency}. Tell us what "
                   "happened (at least 10 letters). Type CANCEL at any time to stop, "
                   "INDONESIA untuk Bahasa Indonesia.",
        "ask_what": "Tell us what happened (at least 10 letters).",
        "too_short": "That is too short. Write what happened, at least 10 letters.",
        "ask_where": "Where is it? Send a location (the attachment button, then Location) or "
                     "type the address and kelurahan.",
        "ask_photos": "Any photos? Send them now (at most {max}), or type NEXT.",
        "photo_taken": "Photo received ({count} of at most {max}).",
        "more_photos": "Photo received ({count} of at most {max}). Send another, or type "
                       "NEXT.",
        "photo_full": "You sent {max} photos already: further photos are not kept.",
        "location_taken": "Location received.",
        "added": "We added your message to the report's story.",
        "summary": "Your report:\nWhat: {body}\nWhere: {where}\nPhotos: {photos}\n"
                   "Reply YES to send it, EDIT to change the story, or CANCEL to stop.",
        "confirm_hint": "Reply YES to send the report, EDIT to change the story, or CANCEL "
                        "to stop.",
        "no_place": "(not given yet)",
        "point": "point {lat:.5f}, {lon:.5f}",
        "cancelled": "The report was cancelled; nothing was kept. Send any message to start "
                     "again.",
        "nothing_to_cancel": "You are not writing a report.",
        "choose": "You have reports still open: {reports}. Reply NEW to file a new report "
                  "from your message, or INFO to add it to report {latest}.",
        "help": "The complaints service of {regency} on WhatsApp. Write what happened to "
                "file a report. CHECK: the status of your reports. INFO <number> <message>: "
                "add to your report. CANCEL: stop the report you are writing. "
                "INDONESIA: Bahasa Indonesia.",
        "unsupported": "Sorry, we can only read text, photos and locations.",
        "info_usage": "Write: INFO <report number> <more information>.",
        "unfollow_usage": "Write: BERHENTI <number of the report you follow>.",
        "busy": "Your report is being sent, please wait a moment.",
    },
}
PHOTO_REFUSED = {
    "id": {"too_large": "Foto terlalu besar (paling besar {mb} MB); tidak kami simpan.",
           "not_image": "Berkas itu bukan foto (JPEG atau PNG); tidak kami simpan.",
           "unavailable": "Foto tidak dapat kami unduh dari WhatsApp; coba kirim lagi."},
    "en": {"too_large": "The photo is too large (at most {mb} MB); it was not kept.",
           "not_image": "That file is not a photo (JPEG or PNG); it was not kept.",
           "unavailable": "We could not download the photo from WhatsApp; please send it "
                          "again."},
}
# What the use case answers after acting (workflows/whatsapp.py).
FILED = {
    "id": ("Laporan Anda kami terima dengan nomor {number}. Simpan tautan pribadi ini untuk "
           "mengikuti laporan (jangan dibagikan): {link}\nKabar berikutnya kami kirim lewat "
           "WhatsApp ini."),
    "en": ("We received your report, number {number}. Keep this private link to follow it "
           "(do not share it): {link}\nWe will send news on this WhatsApp."),
}
FILED_NO_LINK = {
    "id": ("Laporan Anda kami terima dengan nomor {number}. Kode rahasia: {secret} (simpan; "
           "untuk melacak laporan di halaman Lacak Laporan). Kabar berikutnya kami kirim "
           "lewat WhatsApp ini."),
    "en": ("We received your report, number {number}. Secret code: {secret} (keep it, to "
           "follow the report on the Track a report page). We will send news on this "
           "WhatsApp."),
}
NOT_FILED = {
    "id": "Maaf, laporan belum dapat kami terima: {why} Balas YA untuk mencoba lagi, atau "
          "BATAL.",
    "en": "Sorry, the report could not be filed: {why} Reply YES to try again, or CANCEL.",
}
RECOVERED = {
    "id": "Laporan Anda sudah kami terima dengan nomor {number}.",
    "en": "Your report was received, number {number}.",
}
INFO_DONE = {
    True: {"id": "Terima kasih. Jawaban Anda untuk laporan {number} sudah diteruskan ke "
                 "petugas.",
           "en": "Thank you. Your answer for report {number} was passed to the officer."},
    False: {"id": "Terima kasih. Pesan Anda ditambahkan ke laporan {number}.",
            "en": "Thank you. Your message was added to report {number}."},
}
NOT_FOUND = {
    "id": "Laporan {number} tidak ditemukan untuk nomor WhatsApp Anda. Periksa nomornya.",
    "en": "Report {number} was not found for your WhatsApp number. Check the number.",
}
UNFOLLOWED = {
    True: {"id": "Anda tidak lagi menerima kabar laporan {number}.",
           "en": "You will no longer receive news of report {number}."},
    False: {"id": "Nomor Anda tidak mengikuti laporan {number}.",
            "en": "Your number does not follow report {number}."},
}
NO_REPORTS = {
    "id": "Anda tidak punya laporan yang masih berjalan.",
    "en": "You have no open reports.",
}

_TRACKING = re.compile(r"^[A-Z]{2,10}-\d{4}-\d{3,10}$")


@dataclass(frozen=True)
class Incoming:
    """One message as the conversation reads it."""

    message_id: str
    kind: str  # text | location | image | unsupported | ignored
    text: str = ""  # a text's body, a photo's caption, a button's title
    latitude: float | None = None
    longitude: float | None = None
    address: str = ""  # a location's name and address
    photo_error: str | None = None  # too_large | not_image | unavailable (image only)
    late: bool = False  # sent before the last message processed


@dataclass(frozen=True)
class OpenReport:
    number: str
    needs_info: bool


@dataclass(frozen=True)
class State:
    step: str = "idle"
    language: str = "id"
    draft: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What to do: reply `replies`, become `state`, and do `action` (None; ("file",);
    ("info", number, text, photo message id or None); ("status", number or None))."""

    state: State
    replies: tuple[str, ...] = ()
    action: tuple[Any, ...] | None = None
    drop_photos: bool = False  # the draft's photos are no longer wanted


def command(text: str) -> tuple[str | None, str]:
    """The keyword a message starts with (KEYWORDS' key) and the rest of it."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return None, ""
    first = words[0].upper().strip(".,!:#*")
    rest = words[1].strip() if len(words) > 1 else ""
    for name, spellings in KEYWORDS.items():
        if first in spellings:
            return name, rest
    return None, text.strip()


class Talk:
    """The conversation's rules for one regency (names and limits)."""

    def __init__(self, regency: str, max_photos: int, max_mb: int) -> None:
        self.regency = regency
        self.max_photos = max_photos
        self.max_mb = max_mb

    def say(self, language: str, key: str, **values: Any) -> str:
        words = WORDS.get(language, WORDS["id"])
        return words[key].format(regency=self.regency, max=self.max_photos, **values)

    def step(self, state: State, message: Incoming, reports: list[OpenReport]) -> Outcome:
        """The outcome of one message (see the module)."""
        lang = state.language
        if message.kind == "ignored":
            return Outcome(state)
        if message.kind == "unsupported":
            return Outcome(state, (self.say(lang, "unsupported"),))
        if message.kind == "text":
            name, rest = command(message.text)
            if name in ("en", "id") and not rest:
                switched = replace(state, language=name)
                return Outcome(switched, (self.say(name, "help"),))
            if name == "help":
                return Outcome(state, (self.say(lang, "help"),))
            if name == "cancel":
                if state.step == "idle":
                    return Outcome(state, (self.say(lang, "nothing_to_cancel"),))
                return Outcome(State(language=lang), (self.say(lang, "cancelled"),),
                               drop_photos=True)
            if name == "unfollow":
                number = rest.split()[0].upper() if rest.split() else ""
                if not _TRACKING.match(number):
                    return Outcome(state, (self.say(lang, "unfollow_usage"),))
                return Outcome(state, action=("unfollow", number))
            if name == "status":
                number = rest.split()[0].upper() if rest.split() else None
                return Outcome(state, action=("status", number))
            if name == "info" and (rest or state.step != "choose"):
                args = rest.split(maxsplit=1)
                if len(args) < 2 or not _TRACKING.match(args[0].upper()):
                    return Outcome(state, (self.say(lang, "info_usage"),))
                return Outcome(state, action=("info", args[0].upper(), args[1], None))
        if message.kind == "image" and message.photo_error:
            return Outcome(state, (PHOTO_REFUSED[lang if lang in PHOTO_REFUSED else "id"][
                message.photo_error].format(mb=self.max_mb),))
        handler = getattr(self, f"_{state.step}", self._idle)
        return handler(state, message, reports)

    # ------------------------------------------------------------------ steps

    def _idle(self, state: State, message: Incoming, reports: list[OpenReport]) -> Outcome:
        lang = state.language
        waiting = [r for r in reports if r.needs_info]
        if len(waiting) == 1 and message.kind in ("text", "image"):
            name, rest = command(message.text) if message.kind == "text" else (None, "")
            if name != "new":  # the answer to the officer's question
                photo = message.message_id if message.kind == "image" else None
                return Outcome(state, action=("info", waiting[0].number,
                                              message.text.strip() or "(foto)", photo))
        if message.kind == "text":
            name, rest = command(message.text)
            if name == "new":
                return self._begin(state, rest)
            if reports:
                draft = {"pending": message.text.strip()[:BODY_LIMIT]}
                listed = ", ".join(r.number for r in reports[:3])
                return Outcome(State("choose", lang, draft),
                               (self.say(lang, "choose", reports=listed,
                                         latest=reports[0].number),))
            if len(rest) >= MIN_STORY:
                return self._begin(state, rest)
            return Outcome(State("what", lang, {}), (self.say(lang, "welcome"),))
        begun = State("what", lang, {})
        return self._what(begun, message, reports)

    def _begin(self, state: State, story: str) -> Outcome:
        lang = state.language
        if len(story.strip()) >= MIN_STORY:
            draft = {"body": story.strip()[:BODY_LIMIT]}
            return Outcome(State("where", lang, draft), (self.say(lang, "ask_where"),))
        return Outcome(State("what", lang, {}), (self.say(lang, "ask_what"),))

    def _choose(self, state: State, message: Incoming, reports: list[OpenReport]) -> Outcome:
        lang = state.language
        pending = str(state.draft.get("pending", ""))
        if message.kind == "text":
            name, _rest = command(message.text)
            if name == "new":
                return self._begin(state, pending)
            if name == "info" and reports:
                return Outcome(State(language=lang),
                               action=("info", reports[0].number, pending, None))
            draft = {"pending": message.text.strip()[:BODY_LIMIT]}
            listed = ", ".join(r.number for r in reports[:3]) or "-"
            latest = reports[0].number if reports else "-"
            return Outcome(State("choose", lang, draft),
                           (self.say(lang, "choose", reports=listed, latest=latest),))
        # A photo or a location: a new report, its story the message they chose on.
        begun = self._begin(state, pending)
        return getattr(self, f"_{begun.state.step}")(begun.state, message, reports)

    def _what(self, state: State, message: Incoming, reports: list[OpenReport]) -> Outcome:
        lang = state.language
        taken = self._take(state, message)
        if taken is not None:
            if taken.state.draft.get("body"):
                return self._next_after_story(taken.state, taken.replies)
            return replace(taken, replies=(*taken.replies, self.say(lang, "ask_what")))
        story = message.text.strip()
        if len(story) < MIN_STORY:
            return Outcome(state, (self.say(lang, "too_short"),))
        draft = {**state.draft, "body": _joined(state.draft.get("body"), story)}
        return self._next_after_story(State("what", lang, draft), ())

    def _next_after_story(self, state: State, replies: tuple[str, ...]) -> Outcome:
        lang = state.language
        if state.draft.get("latitude") is not None or state.draft.get("address"):
            return Outcome(replace(state, step="photos"),
                           (*replies, self.say(lang, "ask_photos")))
        return Outcome(replace(state, step="where"), (*replies, self.say(lang, "ask_where")))

    def _where(self, state: State, message: Incoming, reports: list[OpenReport]) -> Outcome:
        lang = state.language
        if message.kind == "location":
            taken = self._take(state, message)
            assert taken is not None
            return Outcome(replace(taken.state, step="photos"),
                           (self.say(lang, "location_taken"), self.say(lang, "ask_photos")))
        taken = self._take(state, message)
        if taken is not None:
            return replace(taken, replies=(*taken.replies, self.say(lang, "ask_where")))
        if message.late:
            return self._added(state, message, "ask_where")
        address = " ".join(message.text.split())
        if len(address) < MIN_ADDRESS:
            return Outcome(state, (self.say(lang, "ask_where"),))
        draft = {**state.draft, "address": address[:300]}
        return Outcome(State("photos", lang, draft), (self.say(lang, "ask_photos"),))

    def _photos(self, state: State, message: Incoming, reports: list[OpenReport]) -> Outcome:
        taken = self._take(state, message)
        if taken is not None:
            return taken
        name, _ = command(message.text)
        if name in ("next", "yes") and not message.late:
            return Outcome(replace(state, step="confirm"), (self.summary(state),))
        return self._added(state, message, "ask_photos")

    def _confirm(self, state: State, message: Incoming, reports: list[OpenReport]) -> Outcome:
        lang = state.language
        taken = self._take(state, message)
        if taken is not None:
            return replace(taken, replies=(self.summary(taken.state),))
        name, _ = command(message.text)
        if message.late:
            added = self._added(state, message, "confirm_hint")
            return replace(added, replies=(self.summary(added.state),))
        if name == "yes":
            return Outcome(replace(state, step="filing"), action=("file",))
        if name == "edit":
            draft = {k: v for k, v in state.draft.items() if k != "body"}
            return Outcome(State("what", lang, draft), (self.say(lang, "ask_what"),))
        return Outcome(state, (self.say(lang, "confirm_hint"),))

    def _filing(self, state: State, message: Incoming, reports: list[OpenReport]) -> Outcome:
        return Outcome(state, (self.say(state.language, "busy"),))

    # ------------------------------------------------------------------ pieces

    def _take(self, state: State, message: Incoming) -> Outcome | None:
        """A location or a photo, whatever the step: kept on the draft."""
        lang = state.language
        if message.kind == "location":
            draft = {**state.draft, "latitude": message.latitude,
                     "longitude": message.longitude}
            if message.address:
                draft["address"] = message.address[:300]
            return Outcome(replace(state, draft=draft), (self.say(lang, "location_taken"),))
        if message.kind == "image":
            photos = list(state.draft.get("photos", []))
            if len(photos) >= self.max_photos:
                return Outcome(state, (self.say(lang, "photo_full"),),
                               action=("drop", message.message_id))
            photos.append(message.message_id)
            draft = {**state.draft, "photos": photos}
            caption = message.text.strip()
            if len(caption) >= MIN_STORY and not draft.get("body"):
                draft["body"] = caption[:BODY_LIMIT]  # a photo's caption tells what happened
            key = "more_photos" if state.step == "photos" else "photo_taken"
            return Outcome(replace(state, draft=draft),
                           (self.say(lang, key, count=len(photos)),))
        return None

    def _added(self, state: State, message: Incoming, then: str) -> Outcome:
        """A text that is no answer to the step: added to the story."""
        lang = state.language
        text = message.text.strip()
        if not text:
            return Outcome(state, (self.say(lang, then),))
        draft = {**state.draft, "body": _joined(state.draft.get("body"), text)}
        return Outcome(replace(state, draft=draft),
                       (self.say(lang, "added"), self.say(lang, then)))

    def summary(self, state: State) -> str:
        lang = state.language
        draft = state.draft
        where = []
        if draft.get("address"):
            where.append(str(draft["address"]))
        if draft.get("latitude") is not None:
            where.append(self.say(lang, "point", lat=draft["latitude"], lon=draft["longitude"]))
        return self.say(lang, "summary", body=str(draft.get("body") or ""),
                        where=", ".join(where) or self.say(lang, "no_place"),
                        photos=len(draft.get("photos", [])))


def _joined(first: Any, more: str) -> str:
    text = f"{first}\n{more}" if first else more
    return text[:BODY_LIMIT]
