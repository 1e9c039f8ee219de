"""Who may register what through the client-management API (the CLI is not bound by this).

An API caller is a management client (an agency's admin system). It registers and changes
clients of its own agency only; it grants only ordinary scopes its own client holds, never
`nik` or a management scope (`CLI_ONLY_SCOPES`); and a client holding such a scope is changed
only by an operator with `satu identity clients`. Another agency's client looks missing (404).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from satu.identity.oidc.clients import (
    ClientSpecError,
    active_client,
    get_client,
    validated_spec,
)
from satu.identity.oidc.schemas import ClientOut, ClientSpec
from satu.identity.oidc.scopes import CLI_ONLY_SCOPES, SUPPORTED_SCOPES


class ClientAccessError(ClientSpecError):
    """A registration the calling manager may not make (403), or a client it may not see (404)."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(code, message)
        self.status = status


def managed_client(*, session: Session, manager_client_id: str, client_id: str) -> ClientOut | None:
    """A client the calling management client may change: one of its own agency, else None."""
    manager = active_client(session=session, client_id=manager_client_id)
    client = get_client(session=session, client_id=client_id) if len(client_id) <= 64 else None
    if manager is None or client is None or client.agency_id != manager.agency_id:
        return None
    return client


def check_delegation(
    *, session: Session, manager_client_id: str, spec: ClientSpec, existing: ClientOut | None
) -> None:
    """Refuse what a management client (API caller) may not register; the CLI is not bound.

    Through the API a caller registers clients of its own agency only, may grant only ordinary
    scopes it holds itself (never `nik` or a management scope), and may not change a client
    that holds such a scope: an operator does that with `satu identity clients`.
    """
    validated_spec(session=session, spec=spec)  # a malformed registration is a 400 first
    manager = active_client(session=session, client_id=manager_client_id)
    if manager is None:
        raise ClientAccessError("invalid_client_auth", "The managing client is not active.")
    if existing is not None:
        held = [s for s in existing.scopes if s in CLI_ONLY_SCOPES]
        if held:
            raise ClientAccessError(
                "invalid_claim",
                f"This client holds {', '.join(held)}; only an operator can change it "
                "(satu identity clients).",
            )
    if spec.agency_id != manager.agency_id:
        raise ClientAccessError(
            "invalid_rp_id", f"You may register clients only for agency {manager.agency_id!r}."
        )
    privileged = [s for s in spec.scopes if s in CLI_ONLY_SCOPES]
    if privileged:
        raise ClientAccessError(
            "invalid_claim",
            f"Only an operator can grant {', '.join(privileged)} (satu identity clients create).",
        )
    beyond = [s for s in spec.scopes if s in SUPPORTED_SCOPES and s not in manager.scopes]
    if beyond:
        raise ClientAccessError(
            "invalid_claim",
            f"You may grant only scopes your own client holds; not {', '.join(beyond)}.",
        )
