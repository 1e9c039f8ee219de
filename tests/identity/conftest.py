"""Identity test fixtures: residents, accounts, a browser-like sign-in helper.

Password hashing is made cheap here (argon2id with 64 KiB) so the suite stays fast; the
production defaults are tested separately in test_passwords.py.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import time
from collections.abc import Callable
from datetime import date
from typing import Any

os.environ.setdefault("SATU_ARGON2_MEMORY_KIB", "64")
os.environ.setdefault("SATU_ARGON2_TIME_COST", "1")

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from satu.core.csrf import MAX_AGE_SECONDS, app_secret
from satu.identity import passwords, service
from satu.identity.schemas import ResidentIn, ResidentOut

passwords.hasher.cache_clear()
passwords._dummy_hash.cache_clear()

PASSWORD = "kopi-tubruk-pagi-hari"
VILLAGE = "32.73.01.1001"  # Sukarasa, Sukasari, Kota Bandung
DISTRICT = "327301"
_serials = itertools.count(random.Random().randrange(1000, 8000))
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_nik(born: date, sex: str, district: str = DISTRICT, serial: int | None = None) -> str:
    """A NIK that agrees with `born` and `sex`."""
    day = born.day + 40 if sex == "F" else born.day
    serial = serial if serial is not None else next(_serials)
    return f"{district}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def resident_data(**overrides: Any) -> ResidentIn:
    """Valid registration data for a new resident (unique NIK), with overrides."""
    born = overrides.pop("birth_date", date(1990, 8, 17))
    sex = overrides.pop("sex", "M")
    values: dict[str, Any] = {
        "nik": make_nik(born, sex),
        "full_name": "Budi Santoso",
        "birth_place": "Bandung",
        "birth_date": born,
        "sex": sex,
        "address_line": "Jl. Setiabudi No. 10",
        "rt": "001",
        "rw": "002",
        "village_code": VILLAGE,
        "kk_number": f"3273010101{next(_serials):06d}",
        "phone": f"+62812{next(_serials):07d}",
    }
    values.update(overrides)
    return ResidentIn(**values)


@pytest.fixture
def new_resident(db: Session) -> Callable[..., ResidentOut]:
    """Register a resident (flushed into the test's transaction)."""

    def make(**overrides: Any) -> ResidentOut:
        return service.register_resident(session=db, data=resident_data(**overrides))

    return make


@pytest.fixture
def account(db: Session, new_resident: Callable[..., ResidentOut]) -> dict[str, str]:
    """A resident with an activated account and the password `PASSWORD`."""
    resident = new_resident()
    created = service.create_account(session=db, nik=resident.nik, password=PASSWORD)
    db.commit()
    return {"nik": resident.nik, "account_id": created.id, "password": PASSWORD}


def csrf_of(html: str) -> str:
    """The CSRF token in a page's form."""
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def form_token(client: TestClient, path: str = "/masuk") -> str:
    """Open a page with a form and return its CSRF token (the cookie is kept by the client)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def api_csrf(client: TestClient) -> str:
    """Fetch a token from `GET /api/v1/csrf`, as an API script would, and send it (in
    `X-CSRF-Token`) on every later request of `client`; the cookie it signs is kept too."""
    client.headers.pop("X-CSRF-Token", None)
    response = client.get("/api/v1/csrf")
    assert response.status_code == 200, response.text
    token = str(response.json()["csrf_token"])
    client.headers["X-CSRF-Token"] = token
    return token


def _signer_for(client: TestClient, age_seconds: int = 0) -> URLSafeTimedSerializer:
    """The server's CSRF serializer, optionally stamping tokens `age_seconds` in the past."""

    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_seconds

    secret = app_secret(client.app.state.settings)  # type: ignore[attr-defined]
    return URLSafeTimedSerializer(secret, salt="satu.csrf", signer=Backdated)


def assert_csrf_guarded(
    client: TestClient, method: str, path: str, *, expect: int, **kwargs: Any
) -> Any:
    """`client` is signed in: the request is refused (403 problem+json, nothing done) without
    a good `X-CSRF-Token` or from another origin, and answers `expect` with a good one."""
    client.headers.pop("X-CSRF-Token", None)
    good = client.get("/api/v1/csrf").json()["csrf_token"]
    raw = client.cookies.get("satu_csrf")
    assert raw, "GET /api/v1/csrf sets the CSRF cookie"
    refused = {
        "no token": {},
        "empty token": {"X-CSRF-Token": ""},
        "garbage": {"X-CSRF-Token": "not-a-token"},
        "tampered": {"X-CSRF-Token": good[:-2] + ("AA" if not good.endswith("AA") else "BB")},
        "stale": {"X-CSRF-Token": _signer_for(client, MAX_AGE_SECONDS + 60).dumps(raw)},
        "another browser's": {"X-CSRF-Token": _signer_for(client).dumps("x" * 43)},
        "cross-origin": {"X-CSRF-Token": good, "Origin": "https://evil.example"},
        "opaque origin": {"X-CSRF-Token": good, "Origin": "null"},
        "form field only": {},
    }
    for case, headers in refused.items():
        extra = dict(kwargs)
        if case == "form field only":  # a cross-site <form> can send the field, not the header
            extra = {"data": {"csrf_token": good}}
        response = client.request(method, path, headers=headers, **extra)
        assert response.headers["content-type"].startswith("application/problem+json"), case
        if case == "form field only" and response.status_code == 415:
            continue  # a route whose JSON body is read before the session refuses it sooner
        assert response.status_code == 403, (case, response.status_code, response.text)
        detail = response.json()["detail"]
        assert ("Origin" if "origin" in case else "X-CSRF-Token") in detail, (case, detail)
    headers = {"X-CSRF-Token": good, "Origin": "http://testserver"}
    response = client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == expect, response.text
    return response


def sign_in(
    client: TestClient,
    nik: str,
    password: str = PASSWORD,
    *,
    next_url: str = "/akun",
    acr: str | None = None,
) -> Any:
    """Submit the sign-in form like a browser; returns the (unfollowed) response."""
    token = form_token(client, "/masuk")
    data = {"nik": nik, "password": password, "next": next_url, "csrf_token": token}
    if acr:
        data["acr"] = acr
    return client.post("/masuk", data=data, follow_redirects=False)


@pytest.fixture
def signed_in(client: TestClient, account: dict[str, str]) -> dict[str, str]:
    """`client` signed in (password only) as `account`."""
    response = sign_in(client, account["nik"])
    assert response.status_code == 303, response.text
    return account


def is_signed_in(client: TestClient) -> bool:
    """Whether the client's browser session reaches the account page (else: sent to sign in)."""
    response = client.get("/akun", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code in (200, 303), response.text
    return response.status_code == 200
