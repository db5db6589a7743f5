"""Demo data for a regency modelled on Penajam Paser Utara: agencies, officers, tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.models import Agency, User
from workflows.users import Passwords, create_token, create_user

DEMO_PASSWORD = "aduan-demo-2026"  # noqa: S105 - printed by `aduan demo`; demo data only

# code, name, kind, parent code
AGENCIES: list[tuple[str, str, str, str | None]] = [
    ("kaltim", "Pemerintah Provinsi Kalimantan Timur", "province", None),
    ("ppu", "Pemerintah Kabupaten Penajam Paser Utara", "regency", "kaltim"),
    ("diskominfo", "Dinas Komunikasi, Informatika, Statistik dan Persandian", "opd", "ppu"),
    ("dinas_pupr", "Dinas Pekerjaan Umum dan Penataan Ruang", "opd", "ppu"),
    ("dlh", "Dinas Lingkungan Hidup", "opd", "ppu"),
    ("dishub", "Dinas Perhubungan", "opd", "ppu"),
    ("disdukcapil", "Dinas Kependudukan dan Pencatatan Sipil", "opd", "ppu"),
    ("dinkes", "Dinas Kesehatan", "opd", "ppu"),
    ("disdik", "Dinas Pendidikan dan Kebudayaan", "opd", "ppu"),
    ("dinsos", "Dinas Sosial", "opd", "ppu"),
    ("dpmptsp", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu", "opd", "ppu"),
    ("inspektorat", "Inspektorat Daerah", "opd", "ppu"),
    ("perumda_air", "Perumda Air Minum Danum Taka", "bumd", "ppu"),
    ("kec_penajam", "Kecamatan Penajam", "kecamatan", "ppu"),
    ("kec_waru", "Kecamatan Waru", "kecamatan", "ppu"),
    ("kec_babulu", "Kecamatan Babulu", "kecamatan", "ppu"),
    ("kec_sepaku", "Kecamatan Sepaku", "kecamatan", "ppu"),
    ("kel_nipah_nipah", "Kelurahan Nipah-Nipah", "kelurahan", "kec_penajam"),
    ("kel_gunung_seteleng", "Kelurahan Gunung Seteleng", "kelurahan", "kec_penajam"),
    ("kel_waru", "Kelurahan Waru", "kelurahan", "kec_waru"),
    ("pupr_bina_marga", "Bidang Bina Marga", "unit", "dinas_pupr"),
    ("dlh_kebersihan", "Bidang Pengelolaan Sampah", "unit", "dlh"),
    ("dishub_pju", "UPT Penerangan Jalan Umum", "unit", "dishub"),
    ("air_distribusi", "Bagian Distribusi", "unit", "perumda_air"),
]

# username, full name, roles, agency code
USERS: list[tuple[str, str, list[str], str | None]] = [
    ("admin.kominfo", "Admin Diskominfo PPU", ["regency_admin"], "diskominfo"),
    ("kadis.kominfo", "Kepala Diskominfo", ["supervisor"], "diskominfo"),
    ("sekda", "Sekretaris Daerah PPU", ["supervisor"], "ppu"),
    ("admin.kaltim", "Admin SP4N Provinsi Kaltim", ["supervisor"], "kaltim"),
    ("penghubung.pupr", "Sekretaris Dinas PUPR", ["liaison_officer"], "dinas_pupr"),
    ("kadis.pupr", "Kepala Dinas PUPR", ["supervisor"], "dinas_pupr"),
    ("teknis.binamarga", "Kabid Bina Marga", ["technical_officer"], "pupr_bina_marga"),
    ("penghubung.dlh", "Sekretaris DLH", ["liaison_officer"], "dlh"),
    ("kadis.dlh", "Kepala DLH", ["supervisor"], "dlh"),
    ("teknis.kebersihan", "Kabid Pengelolaan Sampah", ["technical_officer"], "dlh_kebersihan"),
    ("penghubung.dishub", "Sekretaris Dishub", ["liaison_officer"], "dishub"),
    ("penghubung.disdukcapil", "Sekretaris Disdukcapil", ["liaison_officer"], "disdukcapil"),
    ("penghubung.dinkes", "Sekretaris Dinkes", ["liaison_officer"], "dinkes"),
    ("penghubung.disdik", "Sekretaris Disdik", ["liaison_officer"], "disdik"),
    ("penghubung.inspektorat", "Sekretaris Inspektorat", ["liaison_officer"], "inspektorat"),
    ("kepala.inspektorat", "Inspektur Daerah", ["supervisor"], "inspektorat"),
    ("penghubung.air", "Penghubung Perumda Air Minum", ["liaison_officer"], "perumda_air"),
    ("perancang", "Perancang Proses", ["process_designer"], "diskominfo"),
    ("sysadmin", "Administrator Sistem", ["system_admin"], "diskominfo"),
]


def is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Agency))


def load_agencies(session: Session) -> dict[str, Agency]:
    by_code: dict[str, Agency] = {}
    for code, name, kind, parent in AGENCIES:
        agency = Agency(code=code, name=name, kind=kind, active=True,
                        parent_id=by_code[parent].id if parent else None)
        session.add(agency)
        session.flush()
        by_code[code] = agency
    return by_code


def load(session: Session, passwords: Passwords, now: datetime, *, with_tokens: bool = True
         ) -> dict[str, Any]:
    """Load the demo regency into an empty database; returns the accounts to print. The
    accounts share one password: argon2 takes a good fraction of a second on purpose, so it
    is hashed once for all of them (signing in verifies it in full)."""
    if not is_empty(session):
        return {"loaded": False, "users": []}
    load_agencies(session)
    accounts = []
    shared_hash = passwords.hash(DEMO_PASSWORD)
    for username, full_name, roles, agency in USERS:
        user = create_user(session, passwords, username=username, full_name=full_name,
                           roles=roles, agency_code=agency, now=now,
                           email=f"{username}@ppu.example.go.id")
        user.password_hash = shared_hash
        token = create_token(session, username, now, name="demo")[1] if with_tokens else None
        accounts.append({"username": username, "roles": roles, "agency": agency,
                         "password": DEMO_PASSWORD, "token": token})
    return {"loaded": True, "users": accounts}


def accounts_with_demo_password(session: Session, passwords: Passwords
                                ) -> list[dict[str, Any]]:
    """The demo accounts one can still sign in to with DEMO_PASSWORD (active, password not
    changed), in the order of USERS; for `aduan run` and `aduan demo accounts` on a database
    loaded before. The demo accounts share one hash, so this verifies each distinct hash once
    (argon2 is slow on purpose). Their API tokens are kept only as hashes: not here."""
    by_name = {u.username: u for u in session.scalars(
        select(User).where(User.username.in_([name for name, *_ in USERS]),
                           User.active.is_(True)))}
    verdict: dict[str, bool] = {}
    accounts = []
    for username, _full_name, _roles, agency in USERS:
        user = by_name.get(username)
        if user is None or not user.password_hash:
            continue
        if user.password_hash not in verdict:
            verdict[user.password_hash] = passwords.matches(user, DEMO_PASSWORD)
        if verdict[user.password_hash]:
            accounts.append({"username": username, "roles": list(user.roles or []),
                             "agency": agency, "password": DEMO_PASSWORD})
    return accounts


def users_exist(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(User)))

