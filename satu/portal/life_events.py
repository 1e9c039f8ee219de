"""The life events the portal is organised by: configuration data, not templates.

Each event is what a citizen goes through (a birth, a move, losing a job), never which
ministry owns the service. Titles and summaries are given in both languages here because
services will be configured as data, not as code. A `path` appears when the event's page
exists; until then the home page shows the event as an informational card.
"""

from __future__ import annotations

from typing import Final, TypedDict


class LifeEventData(TypedDict):
    """One configured life event, with text in Indonesian (`id`) and English (`en`)."""

    slug: str
    title: dict[str, str]
    summary: dict[str, str]
    path: str | None


LIFE_EVENTS: Final[tuple[LifeEventData, ...]] = (
    {
        "slug": "kelahiran-anak",
        "title": {"id": "Kelahiran anak", "en": "Having a baby"},
        "summary": {
            "id": "Akta kelahiran, pembaruan Kartu Keluarga, dan imunisasi.",
            "en": "Birth certificate, updated family card and immunisation.",
        },
        "path": None,
    },
    {
        "slug": "bantuan-sosial",
        "title": {"id": "Bantuan sosial", "en": "Social assistance"},
        "summary": {
            "id": "Kelayakan dan status bantuan seperti PKH dan BPNT.",
            "en": "Eligibility for and status of aid such as PKH and BPNT.",
        },
        "path": None,
    },
    {
        "slug": "kesehatan",
        "title": {"id": "Kesehatan", "en": "Health"},
        "summary": {
            "id": "Jaminan Kesehatan Nasional (JKN), puskesmas, dan rujukan.",
            "en": "National health insurance (JKN), community health centres and referrals.",
        },
        "path": None,
    },
    {
        "slug": "pendidikan",
        "title": {"id": "Pendidikan", "en": "Education"},
        "summary": {
            "id": "Pendaftaran sekolah, beasiswa, dan Program Indonesia Pintar.",
            "en": "School enrolment, scholarships and the Smart Indonesia Programme.",
        },
        "path": None,
    },
    {
        "slug": "pindah-domisili",
        "title": {"id": "Pindah domisili", "en": "Moving home"},
        "summary": {
            "id": "Surat pindah serta perubahan alamat di KTP dan Kartu Keluarga.",
            "en": "Moving letter and a new address on your ID card and family card.",
        },
        "path": None,
    },
    {
        "slug": "menikah",
        "title": {"id": "Menikah", "en": "Getting married"},
        "summary": {
            "id": "Pencatatan perkawinan dan pembaruan data kependudukan.",
            "en": "Registering a marriage and updating your civil records.",
        },
        "path": None,
    },
    {
        "slug": "memulai-usaha",
        "title": {"id": "Memulai usaha", "en": "Starting a business"},
        "summary": {
            "id": "Nomor Induk Berusaha (NIB), perizinan, dan pajak usaha.",
            "en": "Business identification number (NIB), permits and business tax.",
        },
        "path": None,
    },
    {
        "slug": "kehilangan-pekerjaan",
        "title": {"id": "Kehilangan pekerjaan", "en": "Losing your job"},
        "summary": {
            "id": "Jaminan Kehilangan Pekerjaan, pelatihan, dan lowongan kerja.",
            "en": "Job loss insurance (JKP), training and job vacancies.",
        },
        "path": None,
    },
    {
        "slug": "terdampak-bencana",
        "title": {"id": "Terdampak bencana", "en": "Affected by a disaster"},
        "summary": {
            "id": "Bantuan darurat, pengungsian, dan penggantian dokumen yang hilang.",
            "en": "Emergency aid, shelter and replacing lost documents.",
        },
        "path": None,
    },
    {
        "slug": "bepergian-ke-luar-negeri",
        "title": {"id": "Bepergian ke luar negeri", "en": "Travelling abroad"},
        "summary": {
            "id": "Paspor, visa, dan perlindungan WNI di luar negeri.",
            "en": "Passports, visas and help for Indonesian citizens abroad.",
        },
        "path": None,
    },
    {
        "slug": "usia-lanjut",
        "title": {"id": "Usia lanjut", "en": "Old age"},
        "summary": {
            "id": "Pensiun, jaminan hari tua, dan layanan bagi lansia.",
            "en": "Pensions, old-age savings and services for older people.",
        },
        "path": None,
    },
    {
        "slug": "kematian",
        "title": {"id": "Kematian", "en": "When someone dies"},
        "summary": {
            "id": "Akta kematian, pembaruan Kartu Keluarga, dan santunan.",
            "en": "Death certificate, family card update and benefits.",
        },
        "path": None,
    },
)
