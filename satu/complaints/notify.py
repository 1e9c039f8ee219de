"""Tell the reporter what happened, through the platform's pluggable senders (outbox in demo)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from satu.complaints.models import Report
from satu.core.config import get_settings
from satu.core.notify import send_message

_SUBJECTS = {
    "filed": "Laporan Anda telah diterima",
    "verify": "Laporan Anda telah diverifikasi dan diteruskan",
    "postpone": "Laporan Anda memerlukan keterangan tambahan",
    "reroute": "Laporan Anda dialihkan ke instansi yang berwenang",
    "archive": "Laporan Anda diarsipkan",
    "merge": "Laporan Anda digabung dengan laporan yang sama",
    "follow_up": "Laporan Anda sedang ditindaklanjuti",
    "answer": "Instansi telah menjawab laporan Anda",
    "auto_close": "Laporan Anda ditutup",
    "reopen": "Laporan Anda dibuka kembali",
}


def tell_reporter(*, session: Session, report: Report, action: str, body: str = "") -> None:
    """Send an e-mail and/or SMS about a public step, if the reporter left contact details."""
    subject = _SUBJECTS.get(action)
    if subject is None:
        return
    link = f"{get_settings().public_url.rstrip('/')}/pengaduan/lacak/{report.token}"
    text = f"Laporan {report.number}: {subject}.\n{body[:1000]}\nLacak: {link}".strip()
    if report.reporter_email:
        send_message(
            session=session,
            channel="email",
            to=report.reporter_email,
            subject=f"[{report.number}] {subject}",
            body=text,
        )
    if report.reporter_phone:
        send_message(
            session=session,
            channel="sms",
            to=report.reporter_phone,
            subject=subject,
            body=f"Laporan {report.number}: {subject}. {link}",
        )
