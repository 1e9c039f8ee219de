"""Pages: the report form with preview, public and tracking pages, statistics, officer pages
(with a real sign-in), escaping of injected scripts, and agency isolation over HTTP."""

from __future__ import annotations

import io
import re
from datetime import date

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints.models import Attachment, Report
from satu.complaints.statistics import clear_cache
from satu.identity import service as identity
from satu.identity.schemas import ResidentIn
from tests.identity.conftest import api_csrf

from .conftest import DUKCAPIL, VILLAGE

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "kopi-tubruk-pagi-hari-7"
FORM = {
    "kind": "complaint",
    "service_code": "ktp-el",
    "region_code": VILLAGE,
    "title": "KTP-el belum dicetak sejak Maret",
    "body": "Saya sudah merekam KTP-el di Disdukcapil sejak Maret tetapi belum dicetak juga.",
    "reporter_name": "Nyak Sandang",
    "reporter_email": "sandang@example.id",
}


def token_of(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found
    return found.group(1)


def officer_client(client: TestClient, db: Session, serial: int, role: str, agency: str) -> None:
    """Register a resident, give them an account and a role, and sign in like a browser."""
    nik = f"110101170890{serial:04d}"
    identity.register_resident(
        session=db,
        data=ResidentIn(
            nik=nik,
            full_name="Petugas Uji",
            birth_place="Banda Aceh",
            birth_date=date(1990, 8, 17),
            sex="M",
            village_code=VILLAGE,
            kk_number=f"110101010190{serial:04d}",
        ),
    )
    account = identity.create_account(session=db, nik=nik, password=PASSWORD)
    identity.grant_role(session=db, account_id=account.id, role=role, agency_id=agency)
    db.commit()
    token = token_of(client, "/masuk")
    answer = client.post(
        "/masuk",
        data={"nik": nik, "password": PASSWORD, "next": "/akun", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def test_prefilled_form_preview_and_submit(client: TestClient, db: Session) -> None:
    page = client.get("/pengaduan/baru", params={"service": "ktp-el", "case": "KTP/2026/77"})
    assert '<option value="ktp-el" selected>' in page.text and "KTP/2026/77" in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    preview = client.post(
        "/pengaduan/baru", data={**FORM, "anonymous": "1", "csrf_token": token, "step": "preview"}
    )
    assert preview.status_code == 200
    assert "Anonim" in preview.text and "Nyak Sandang" not in preview.text.split("<form")[0]
    assert db.scalars(select(Report).where(Report.title == FORM["title"])).first() is None
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 128, 0)).save(picture, format="PNG")
    filed = client.post(
        "/pengaduan/baru",
        data={**FORM, "csrf_token": token, "step": "submit"},
        files=[("lampiran", ("jalan.png", picture.getvalue(), "image/png"))],
    )
    assert filed.status_code == 201, filed.text
    row = db.scalars(select(Report).where(Report.title == FORM["title"])).one()
    assert row.agency_id == DUKCAPIL and row.channel == "web"
    assert f"/pengaduan/lacak/{row.token}" in filed.text
    assert db.scalars(select(Attachment).where(Attachment.report_id == row.id)).one().size > 0


def test_forms_without_csrf_are_refused(client: TestClient, db: Session) -> None:
    answer = client.post("/pengaduan/baru", data={**FORM, "step": "submit"})
    assert answer.status_code == 403
    assert db.scalars(select(Report).where(Report.title == FORM["title"])).first() is None


def test_form_errors_are_shown_and_nothing_is_stored(client: TestClient, db: Session) -> None:
    token = token_of(client, "/pengaduan/baru")
    answer = client.post(
        "/pengaduan/baru",
        data={**FORM, "body": "pendek", "csrf_token": token, "step": "submit"},
    )
    assert answer.status_code == 422 and 'href="#f-body"' in answer.text
    lying = client.post(
        "/pengaduan/baru",
        data={**FORM, "csrf_token": token, "step": "submit"},
        files=[("lampiran", ("foto.jpg", b"MZ\x90\x00 not an image", "image/jpeg"))],
    )
    assert lying.status_code == 415
    assert db.scalars(select(Report).where(Report.title == FORM["title"])).first() is None


def test_injected_script_is_escaped_on_every_page(client: TestClient, db: Session) -> None:
    script = "<script>alert('x')</script>"
    token = token_of(client, "/pengaduan/baru")
    client.post(
        "/pengaduan/baru",
        data={
            **FORM,
            "title": f"Judul {script}",
            "body": f"{script} " * 5,
            "csrf_token": token,
            "step": "submit",
        },
    )
    row = db.scalars(select(Report).where(Report.title == f"Judul {script}")).one()
    for path in (f"/pengaduan/laporan/{row.number}", f"/pengaduan/lacak/{row.token}"):
        html = client.get(path).text
        assert script not in html and "&lt;script&gt;" in html


def test_public_page_me_too_and_tracking_actions(client: TestClient, db: Session) -> None:
    token = token_of(client, "/pengaduan/baru")
    client.post("/pengaduan/baru", data={**FORM, "csrf_token": token, "step": "submit"})
    row = db.scalars(select(Report).where(Report.title == FORM["title"])).one()
    public = client.get(f"/pengaduan/laporan/{row.number}")
    assert public.status_code == 200 and "sandang@example.id" not in public.text
    assert "Nyak" in public.text and "Sandang" not in public.text
    form = CSRF.search(public.text).group(1)  # type: ignore[union-attr]
    support = client.post(
        f"/pengaduan/laporan/{row.number}/dukung",
        data={"csrf_token": form},
        follow_redirects=False,
    )
    db.refresh(row)
    assert support.status_code == 303 and row.supporters == 1
    track = client.get(f"/pengaduan/lacak/{row.token}")
    form = CSRF.search(track.text).group(1)  # type: ignore[union-attr]
    reply = client.post(
        f"/pengaduan/lacak/{row.token}",
        data={"csrf_token": form, "action": "reply", "message": "Tambahan: saya rekam 3 Maret."},
        follow_redirects=False,
    )
    assert reply.status_code == 303
    too_early = client.post(
        f"/pengaduan/lacak/{row.token}",
        data={"csrf_token": form, "action": "reopen", "message": "Belum"},
    )
    assert too_early.status_code == 409
    assert client.get("/pengaduan/lacak", params={"kode": row.token}, follow_redirects=False)


def test_statistics_page_draws_svg_charts(client: TestClient) -> None:
    token = token_of(client, "/pengaduan/baru")
    client.post("/pengaduan/baru", data={**FORM, "csrf_token": token, "step": "submit"})
    clear_cache()
    page = client.get("/pengaduan/statistik")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 3 and "<script" not in page.text
    assert "Administrasi Kependudukan" in page.text
    csv_answer = client.get("/pengaduan/statistik.csv")
    assert csv_answer.text.startswith("dimension,key,label")


def test_officer_pages_need_sign_in(client: TestClient) -> None:
    page = client.get("/petugas/pengaduan", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/masuk")


def test_officers_see_only_their_agency_and_act_with_csrf(client: TestClient, db: Session) -> None:
    token = token_of(client, "/pengaduan/baru")
    client.post(
        "/pengaduan/baru", data={**FORM, "anonymous": "1", "csrf_token": token, "step": "submit"}
    )
    row = db.scalars(select(Report).where(Report.title == FORM["title"])).one()
    officer_client(client, db, 9101, "verifier", "kemenpan-rb")
    queue = client.get("/petugas/pengaduan")
    assert queue.status_code == 200 and row.number in queue.text
    case = client.get(f"/petugas/pengaduan/{row.id}")
    assert case.status_code == 200
    assert "Nyak Sandang" not in case.text and "sandang@example.id" not in case.text
    form = CSRF.search(case.text).group(1)  # type: ignore[union-attr]
    verified = client.post(
        f"/petugas/pengaduan/{row.id}",
        data={"csrf_token": form, "action": "verify"},
        follow_redirects=False,
    )
    db.refresh(row)
    assert verified.status_code == 303 and row.status == "dispositioned"
    client.cookies.clear()
    officer_client(client, db, 9102, "officer", "kab-11.02.disdukcapil")
    assert client.get(f"/petugas/pengaduan/{row.id}").status_code == 404
    assert row.number not in client.get("/petugas/pengaduan").text
    client.cookies.clear()
    officer_client(client, db, 9103, "officer", DUKCAPIL)
    own = client.get(f"/petugas/pengaduan/{row.id}")
    assert own.status_code == 200 and "Nyak Sandang" not in own.text
    form = CSRF.search(own.text).group(1)  # type: ignore[union-attr]
    answered = client.post(
        f"/petugas/pengaduan/{row.id}",
        data={"csrf_token": form, "action": "answer", "template_id": "3"},
        follow_redirects=False,
    )
    db.refresh(row)
    assert answered.status_code == 303 and row.status == "done"
    no_csrf = client.post(f"/petugas/pengaduan/{row.id}", data={"action": "note", "message": "x"})
    assert no_csrf.status_code == 403
    api = client.get(f"/api/v1/complaints/cases/{row.id}")
    assert api.status_code == 200 and api.json()["reporter_name"] is None
    # A cross-site form cannot send the X-CSRF-Token header: the cookie-authenticated JSON API
    # refuses it (and would refuse its content type too).
    forged = client.post(
        f"/api/v1/complaints/cases/{row.id}/actions",
        content=b'{"action": "note", "message": "dari situs lain"}',
        headers={"content-type": "text/plain"},
    )
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["detail"]
    api_csrf(client)
    noted = client.post(
        f"/api/v1/complaints/cases/{row.id}/actions",
        json={"action": "note", "message": "catatan lewat API"},
    )
    assert noted.status_code == 200 and noted.json()["events"][-1]["body"] == "catatan lewat API"


def test_signed_in_reporters_see_their_reports(client: TestClient, db: Session) -> None:
    assert (
        client.get(
            "/pengaduan/saya", headers={"accept": "text/html"}, follow_redirects=False
        ).status_code
        == 303
    )
    officer_client(client, db, 9104, "officer", DUKCAPIL)
    token = token_of(client, "/pengaduan/baru")
    client.post("/pengaduan/baru", data={**FORM, "csrf_token": token, "step": "submit"})
    row = db.scalars(select(Report).where(Report.title == FORM["title"])).one()
    assert row.reporter_account_id is not None
    mine = client.get("/pengaduan/saya")
    assert mine.status_code == 200 and row.number in mine.text
