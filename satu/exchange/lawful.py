"""Purpose and lawful basis: what the gateway demands before personal data may flow.

Every call names its purpose in `X-Road-Purpose` (a code such as `bansos-eligibility`).
A call to a service that handles personal data names the resident it concerns in
`X-Road-UserId` as `ID` + NIK (X-Road's country-prefixed user id; a bare 16-digit NIK is
accepted too), and needs a lawful basis: the resident's standing consent to the consumer's
agency (identity domain), or a legal mandate registered for that service, consumer member and
purpose (registry).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy.orm import Session

from satu.core.nik import InvalidNik, parse_nik
from satu.exchange import registry
from satu.exchange.schemas import MandateInfo, ServiceInfo, SubsystemInfo
from satu.exchange.xroad import XRoadError
from satu.identity import service as identity
from satu.identity.service import ConsentInfo
from satu.satudata import service as satudata

PURPOSE_HEADER = "X-Road-Purpose"
_PURPOSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")
_USER_ID = re.compile(r"^(?:ID)?(\d{16})$")


@dataclass(frozen=True)
class LawfulBasis:
    """Why the call may concern the resident: `consent:<id>` or `mandate:<id>`."""

    kind: str
    ref: str
    legal_basis: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"


def check_purpose(value: str | None) -> str:
    """The call's purpose code; Client.MissingPurpose when absent or malformed."""
    if value is None or not value.strip():
        raise XRoadError(
            "Client.MissingPurpose",
            f"The {PURPOSE_HEADER} header is required: name the purpose of this call.",
        )
    value = value.strip()
    if not _PURPOSE.match(value):
        raise XRoadError(
            "Client.MissingPurpose",
            f"{PURPOSE_HEADER} must be a code of 1-100 letters, digits and . _ : / - "
            "(starting with a letter or digit).",
        )
    return value


def subject_nik(*, session: Session, user_id: str | None) -> str:
    """The data subject's NIK from X-Road-UserId (`ID` + 16 digits); checked in form."""
    if user_id is None or not user_id.strip():
        raise XRoadError(
            "Client.MissingUserId",
            "This service handles personal data: X-Road-UserId must name the resident "
            "as ID followed by the 16-digit NIK.",
        )
    match = _USER_ID.match(user_id.strip())
    if not match:
        raise XRoadError(
            "Client.MissingUserId",
            "X-Road-UserId must be ID followed by a 16-digit NIK (e.g. ID3201010101900001).",
        )
    try:
        nik = parse_nik(match.group(1), districts=satudata.known_district_codes(session=session))
    except InvalidNik as exc:
        parts = ", ".join(sorted(set(exc.parts)))
        raise XRoadError(
            "Client.MissingUserId", f"X-Road-UserId does not hold a valid NIK (wrong: {parts})."
        ) from None
    return nik.value


def lawful_basis(
    *,
    session: Session,
    service: ServiceInfo,
    consumer: SubsystemInfo,
    nik: str,
    purpose: str,
    find_mandate: Callable[..., MandateInfo | None] | None = None,
    find_consent: Callable[[], ConsentInfo | None] | None = None,
) -> LawfulBasis:
    """The consent or mandate that allows this call; Client.NoLawfulBasis when neither.

    `find_mandate` and `find_consent` replace the registry and identity lookups (the gateway
    passes briefly cached ones).
    """
    if find_consent is not None:
        consent = find_consent()
    else:
        consent = identity.consent_for_agency(
            session=session, nik=nik, agency_id=consumer.agency_id
        )
    if consent is not None:
        return LawfulBasis("consent", consent.consent_id)
    lookup = find_mandate or partial(registry.find_mandate, session=session)
    mandate = lookup(
        service_id=service.id,
        client_member_class=consumer.member_class,
        client_member_code=consumer.member_code,
        purpose=purpose,
    )
    if mandate is not None:
        return LawfulBasis("mandate", str(mandate.id), mandate.legal_basis)
    raise XRoadError(
        "Client.NoLawfulBasis",
        "No lawful basis: the resident has not consented to share data with your agency, "
        f"and no legal mandate lets your member obtain this service for purpose {purpose!r}.",
    )
