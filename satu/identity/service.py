"""The identity domain's public service: what other domains (and the OIDC provider) may call.

Functions are keyword-only, take a `Session`, flush and never commit.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import Request
from sqlalchemy.orm import Session

from satu.core.config import Settings, get_settings
from satu.core.errors import Problem, wants_html
from satu.identity.accounts import AccountError as AccountError
from satu.identity.accounts import account_for_nik as account_for_nik
from satu.identity.accounts import create_account as create_account
from satu.identity.accounts import find_account as find_account
from satu.identity.accounts import set_account_status as set_account_status
from satu.identity.audit import client_ip as client_ip
from satu.identity.audit import list_audit as list_audit
from satu.identity.audit import record_audit as record_audit
from satu.identity.demo import seed_demo as seed_demo
from satu.identity.officers import AgencyOfficer as AgencyOfficer
from satu.identity.officers import agency_officers as agency_officers
from satu.identity.officers import grant_role as grant_role
from satu.identity.officers import list_grants as list_grants
from satu.identity.officers import officer_context as officer_context
from satu.identity.officers import revoke_role as revoke_role
from satu.identity.residents import family_members as family_members
from satu.identity.residents import find_resident as find_resident
from satu.identity.residents import get_resident as get_resident
from satu.identity.residents import nik_mismatches as nik_mismatches
from satu.identity.residents import record_death as record_death
from satu.identity.residents import register_resident as register_resident
from satu.identity.schemas import ACR_LEVELS, ACR_PWD, ACR_PWD_TOTP
from satu.identity.schemas import AccessTokenInfo as AccessTokenInfo
from satu.identity.schemas import AccountOut as AccountOut
from satu.identity.schemas import ConsentInfo as ConsentInfo
from satu.identity.schemas import LoginInfo as LoginInfo
from satu.identity.schemas import ResidentIn as ResidentIn
from satu.identity.schemas import ResidentOut as ResidentOut
from satu.identity.seed import seed_residents as seed_residents
from satu.identity.sessions import current_login as current_login
from satu.identity.sessions import is_session_live as is_session_live
from satu.identity.sessions import list_sessions as list_sessions
from satu.identity.sessions import logout as logout
from satu.identity.sessions import revoke_all_sessions as revoke_all_sessions

__all__ = ["ACR_LEVELS", "ACR_PWD", "ACR_PWD_TOTP"]

LOGIN_PATH = "/masuk"
DATA_USAGE_SCOPE = "data_usage"  # the scope that lets a resident's app read their data tracker


def safe_next(next_url: str | None, default: str = "/akun") -> str:
    """`next_url` if it is a same-origin relative path, else `default` (no open redirects)."""
    if not next_url or len(next_url) > 4000:
        return default
    if any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in next_url):
        return default
    if not next_url.startswith("/") or next_url.startswith("//"):
        return default
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc:
        return default
    return next_url


def login_url(*, next_url: str, acr: str | None = None, prompt: str | None = None) -> str:
    """The sign-in page that sends the browser back to `next_url` once signed in at `acr`."""
    params = {"next": safe_next(next_url, "/")}
    if acr in ACR_LEVELS:
        params["acr"] = acr
    if prompt == "login":
        params["prompt"] = prompt
    return f"{LOGIN_PATH}?{urlencode(params)}"


def sign_in_required(request: Request) -> Problem:
    """The answer to a request that needs a signed-in person and has none: pages (GET/HEAD)
    are sent to the sign-in page and back (303), APIs get 401 with `WWW-Authenticate`."""
    if wants_html(request) and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Problem(
            "unauthorized",
            "Sign in to continue.",
            status=303,
            headers={"Location": login_url(next_url=target)},
        )
    return Problem(
        "unauthorized",
        "Sign in to continue.",
        headers={"WWW-Authenticate": 'Cookie realm="satu"'},
    )


def get_account(*, session: Session, account_id: str) -> AccountOut:
    """The account with this id; 404 problem if none."""
    account = find_account(session=session, account_id=account_id)
    if account is None:
        raise Problem("not-found", "No such account.")
    return account


def acr_satisfies(have: str, want: str | None) -> bool:
    """Whether a sign-in at level `have` meets a request for level `want`."""
    if want is None or want not in ACR_LEVELS:
        return True
    return ACR_LEVELS.index(have) >= ACR_LEVELS.index(want) if have in ACR_LEVELS else False


# The provider (satu.identity.oidc) imports this module, so its functions are imported late.


def verify_access_token(
    *,
    session: Session,
    token: str,
    audience: str | None = None,
    settings: Settings | None = None,
) -> AccessTokenInfo | None:
    """The facts of a live Satu access token (signature, exp, iss, typ, revocation), else None."""
    from satu.identity.oidc.tokens import access_token_info

    return access_token_info(
        session=session, settings=settings or get_settings(), token=token, audience=audience
    )


def consent_for_agency(*, session: Session, nik: str, agency_id: str) -> ConsentInfo | None:
    """The resident's newest standing consent to an active client of this agency, else None."""
    from satu.identity.oidc.consents import consent_for_agency as newest_consent

    return newest_consent(session=session, nik=nik, agency_id=agency_id)


def verify_dpop_proof(
    *, session: Session, proof: str, method: str, url: str, access_token: str
) -> str:
    """The key thumbprint of a valid DPoP proof for this request; `ValueError` if it is not.

    Compare the result with `AccessTokenInfo.jkt`. The proof's `jti` is recorded (no replay).
    """
    from satu.identity.oidc.dpop import verify_proof

    return verify_proof(
        session=session, proof=proof, method=method, url=url, access_token=access_token
    )


class TokenRefused(Exception):
    """A refused access token, as RFC 6750 and RFC 9449 name it.

    `error` (`invalid_token`, `invalid_dpop_proof`, `use_dpop_nonce`, `insufficient_scope`, ...),
    `description`, `status` (401, or 403 for a missing scope) and `headers` to answer with (the
    `WWW-Authenticate` challenge, and a fresh `DPoP-Nonce` when one is needed).
    """

    def __init__(
        self, error: str, description: str, *, status: int, headers: dict[str, str]
    ) -> None:
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers
        super().__init__(description)


def verify_resident_token(*, session: Session, request: Request, scope: str) -> str:
    """The NIK of the resident whose app token (and DPoP proof) on `request` holds `scope`.

    Raises `TokenRefused`. The token must come from the authorization-code flow (or a refresh of
    it) and the account must be active; its pairwise `sub` is resolved here, never shown.
    """
    from satu.identity.oidc.access import resident_token_nik
    from satu.identity.oidc.errors import BearerError

    try:
        return resident_token_nik(session=session, request=request, scope=scope)
    except BearerError as error:
        raise TokenRefused(
            error.error,
            error.description,
            status=error.status,
            headers=error.challenge_headers(),
        ) from None
