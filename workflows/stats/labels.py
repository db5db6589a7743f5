"""The figures' words in Indonesian and English, and the names of months and deadline classes."""

from __future__ import annotations

from workflows import diagram_ids as ids
from workflows.sla import STEP_LABELS

LABELS: dict[str, dict[str, str]] = {
    "received": {"id": "Diterima", "en": "Received"},
    "verified": {"id": "Terverifikasi", "en": "Verified"},
    "dispositioned": {"id": "Terdisposisi", "en": "Dispositioned"},
    "answered": {"id": "Dijawab OPD", "en": "Answered by the agency"},
    "pending": {"id": "Menunggu verifikasi/disposisi", "en": "Awaiting verification"},
    "archived": {"id": "Arsip", "en": "Archived"},
    "returned": {"id": "Bukan Wewenang", "en": "Not our authority"},
    "in_progress": {"id": "Dalam proses tindak lanjut", "en": "In follow-up"},
    "closed": {"id": "Selesai", "en": "Closed"},
    "base": {"id": "Laporan kewenangan daerah", "en": "Reports the regency handles"},
    "pct": {"id": "Persentase ditindaklanjuti (%)", "en": "Followed up (%)"},
    "pct_closed": {"id": "Persentase selesai (%)", "en": "Closed (%)"},
    "pct_in_progress": {"id": "Persentase dalam proses (%)", "en": "In follow-up (%)"},
    "followed_up_pct": {"id": "Persentase ditindaklanjuti (%)", "en": "Followed up (%)"},
    "count": {"id": "Jumlah", "en": "Count"},
    "mean_days": {"id": "Rata-rata (hari kerja)", "en": "Mean (working days)"},
    "median_days": {"id": "Median (hari kerja)", "en": "Median (working days)"},
    "met": {"id": "Tepat waktu", "en": "On time"},
    "breached": {"id": "Terlambat", "en": "Late"},
    "open": {"id": "Masih berjalan", "en": "Still running"},
    "overdue": {"id": "Lewat tenggat sekarang", "en": "Overdue now"},
    "on_time_pct": {"id": "Persentase tepat waktu (%)", "en": "On time (%)"},
    "mean_late_days": {"id": "Rata-rata keterlambatan (hari kerja)",
                       "en": "Mean lateness (working days)"},
    "budget_days": {"id": "Tenggat (hari kerja)", "en": "Budget (working days)"},
    "total": {"id": "Jumlah", "en": "Total"},
    "mean": {"id": "Rata-rata penilaian (1-5)", "en": "Mean rating (1-5)"},
    "rank": {"id": "Peringkat", "en": "Rank"},
    "score": {"id": "Nilai (0-100)", "en": "Score (0-100)"},
    "followed_up": {"id": "Komponen tindak lanjut (0-1)", "en": "Follow-up component (0-1)"},
    "on_time": {"id": "Komponen ketepatan waktu (0-1)", "en": "On-time component (0-1)"},
    "speed": {"id": "Komponen kecepatan (0-1)", "en": "Speed component (0-1)"},
    "satisfaction": {"id": "Komponen kepuasan (0-1)", "en": "Satisfaction component (0-1)"},
    **{f"rating_{k}": {"id": f"Penilaian {k}", "en": f"Rating {k}"} for k in ids.RATINGS},
    **{f"status_{s}": {"id": f"Status: {v['id']}", "en": f"Status: {v['en']}"}
       for s, v in ids.STATUS_LABELS.items()},
}
CATEGORY_LABELS = {
    "roads": {"id": "Jalan", "en": "Roads"},
    "waste": {"id": "Sampah", "en": "Waste"},
    "street_lights": {"id": "Penerangan jalan umum", "en": "Street lights"},
    "water": {"id": "Air bersih", "en": "Water"},
    "civil_registration": {"id": "Kependudukan dan pencatatan sipil",
                           "en": "Civil registration"},
    "health": {"id": "Kesehatan", "en": "Health"},
    "education": {"id": "Pendidikan", "en": "Education"},
    "permits": {"id": "Perizinan", "en": "Permits"},
    "social_aid": {"id": "Bantuan sosial", "en": "Social aid"},
    "other": {"id": "Lainnya", "en": "Other"},
}
CHANNEL_LABELS = {
    "web": {"id": "Situs web", "en": "Web"},
    "qr": {"id": "Kode QR", "en": "QR code"},
    "whatsapp": {"id": "WhatsApp", "en": "WhatsApp"},
    "sms": {"id": "SMS", "en": "SMS"},
    "api": {"id": "API", "en": "API"},
    "open311": {"id": "Open311", "en": "Open311"},
}
CLASSIFICATION_LABELS = {
    "pengaduan": {"id": "Pengaduan", "en": "Complaint"},
    "aspirasi": {"id": "Aspirasi", "en": "Suggestion"},
    "permintaan_informasi": {"id": "Permintaan informasi", "en": "Information request"},
}
MEASURE_LABELS = {
    "disposition_to_first_answer": {
        "id": "Rata-rata laju tindak lanjut: disposisi sampai jawaban pertama",
        "en": "Follow-up speed: disposition to first answer"},
    "submission_to_verification": {"id": "Pengiriman sampai verifikasi",
                                   "en": "Submission to verification"},
    "submission_to_closure": {"id": "Pengiriman sampai selesai",
                              "en": "Submission to closure"},
}
MONTHS = {"id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
                 "September", "Oktober", "November", "Desember"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August",
                 "September", "October", "November", "December")}
NO_AGENCY = {"id": "Belum didisposisi", "en": "Not yet dispositioned"}
REGENCY = {"id": "Kabupaten", "en": "Regency"}


def month_label(key: str) -> dict[str, str]:
    """How a month key ('2024-03') is written: 'Maret 2024', 'March 2024'."""
    year, month = int(key[:4]), int(key[5:7])
    return {lang: f"{names[month - 1]} {year}" for lang, names in MONTHS.items()}


def class_label(key: str) -> dict[str, str]:
    """How a deadline class (a step, or 'resolution.' and what the budget depends on) is
    written."""
    step, _, kind = key.partition(".")
    base = STEP_LABELS.get(step, {"id": step, "en": step})
    if not kind:
        return dict(base)
    if kind == "pengaduan_berkadar_pengawasan":
        return {"id": f"{base['id']} pengaduan berkadar pengawasan",
                "en": f"{base['en']} of complaints alleging misconduct"}
    label = CLASSIFICATION_LABELS.get(kind, {"id": kind, "en": kind})
    return {"id": f"{base['id']} {label['id'].lower()}", "en": f"{base['en']} of "
            f"{label['en'].lower()}s"}
