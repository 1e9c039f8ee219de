"""`satu exchange subsystem|service|right|mandate|key ...`: the registry from the command line.

The command runs on the server with the operator's authority (an exchange administrator);
every change is audited with the actor `cli`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from satu.core.config import get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.errors import Problem
from satu.exchange import keys, registry
from satu.exchange.schemas import Actor, ServiceInfo, SubsystemInfo
from satu.exchange.xroad import BadIdentifier, ClientId, split_service_path

commands = typer.Typer()
subsystem_app = typer.Typer(
    help="Members' subsystems (their information systems).", no_args_is_help=True
)
service_app = typer.Typer(help="Services that subsystems provide.", no_args_is_help=True)
right_app = typer.Typer(help="Access rights: who may call which service.", no_args_is_help=True)
mandate_app = typer.Typer(
    help="Legal mandates (lawful basis without consent).", no_args_is_help=True
)
key_app = typer.Typer(help="Members' signing keys.", no_args_is_help=True)
commands.add_typer(subsystem_app, name="subsystem")
commands.add_typer(service_app, name="service")
commands.add_typer(right_app, name="right")
commands.add_typer(mandate_app, name="mandate")
commands.add_typer(key_app, name="key")

console = Console()
ACTOR = Actor.system("cli")
MAX_OPENAPI_FILE = 2_000_000


@contextmanager
def _session() -> Iterator[Session]:
    factory = make_sessionmaker(make_engine(get_settings()))
    try:
        with transaction(factory) as session:
            yield session
    except Problem as exc:
        console.print(f"[red]Error:[/red] {exc.detail or exc.title}")
        raise typer.Exit(1) from exc


def _subsystem(session: Session, text: str) -> SubsystemInfo:
    try:
        found = registry.resolve_client(session=session, client=ClientId.parse(text))
    except BadIdentifier as exc:
        raise Problem("validation-error", str(exc)) from exc
    if found is None:
        raise Problem("not-found", f"No subsystem {text}.")
    return found


def _service(session: Session, text: str) -> ServiceInfo:
    try:
        service_id, rest = split_service_path("/" + text.strip("/"))
    except BadIdentifier as exc:
        raise Problem("validation-error", str(exc)) from exc
    if rest != "/":
        raise Problem("validation-error", "A service identifier has exactly five parts.")
    found = registry.resolve_service(session=session, service=service_id)
    if found is None:
        raise Problem("not-found", f"No service {text}.")
    return found


# --- subsystems --------------------------------------------------------------------------------


@subsystem_app.command("add")
def subsystem_add(
    agency: str = typer.Option(..., help="Agency id in the agency registry, e.g. kemensos."),
    code: str = typer.Option(..., help="Subsystem code, e.g. dtks."),
    name: str = typer.Option("", help="Display name (default: the agency's name)."),
    client_id: str = typer.Option(None, help="OIDC client (client_credentials) it calls as."),
    require_signature: bool = typer.Option(False, help="Its requests must be signed."),
) -> None:
    """Register an agency's information system as a subsystem."""
    with _session() as session:
        info = registry.register_subsystem(
            session=session,
            actor=ACTOR,
            agency_id=agency,
            subsystem_code=code,
            name=name,
            client_id=client_id,
            require_signature=require_signature,
        )
    console.print(f"Registered subsystem {info.xroad_id} (id {info.id}).")


@subsystem_app.command("list")
def subsystem_list(agency: str = typer.Option(None, help="Only this agency's.")) -> None:
    """List subsystems."""
    with _session() as session:
        rows = registry.list_subsystems(session=session, agency_id=agency)
    table = Table("id", "subsystem", "agency", "client_id", "enabled")
    for s in rows:
        table.add_row(str(s.id), s.xroad_id, s.agency_id, s.client_id or "-", str(s.enabled))
    console.print(table)


# --- services ----------------------------------------------------------------------------------


def _read_openapi(path: Path) -> dict:
    if not path.is_file() or path.stat().st_size > MAX_OPENAPI_FILE:
        raise Problem("validation-error", f"{path} is not a file of at most {MAX_OPENAPI_FILE} B.")
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - PyYAML ships with the dev tools only
        raise Problem("validation-error", "The OpenAPI file must be JSON.") from exc
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Problem("validation-error", "The OpenAPI file is neither JSON nor YAML.") from exc
    return json.loads(json.dumps(loaded, default=str))


@service_app.command("add")
def service_add(
    subsystem: str = typer.Option(..., help="Provider subsystem: INSTANCE/CLASS/CODE/SUBSYSTEM."),
    code: str = typer.Option(..., help="Service code, e.g. population."),
    base_url: str = typer.Option(..., help="The backend's base URL (http or https)."),
    openapi: Path = typer.Option(..., help="OpenAPI 3 document (JSON or YAML file)."),
    operation: list[str] = typer.Option(
        [], help="Expose only this operation, e.g. 'GET /persons/{nik}' (repeatable)."
    ),
    title: str = typer.Option("", help="Title (default: the document's info.title)."),
    personal_data: bool = typer.Option(True, help="Calls concern a resident (NIK required)."),
) -> None:
    """Register a service of a subsystem."""
    with _session() as session:
        provider = _subsystem(session, subsystem)
        info = registry.register_service(
            session=session,
            actor=ACTOR,
            subsystem_id=provider.id,
            service_code=code,
            base_url=base_url,
            openapi=_read_openapi(openapi),
            operations=list(operation) or None,
            title=title,
            personal_data=personal_data,
        )
    console.print(
        f"Registered service {info.xroad_id} (id {info.id}), "
        f"{len(info.operations)} operation(s) exposed."
    )


@service_app.command("list")
def service_list(agency: str = typer.Option(None, help="Only this agency's.")) -> None:
    """List services."""
    with _session() as session:
        rows = registry.list_services(session=session, agency_id=agency)
    table = Table("id", "service", "base URL", "operations", "enabled")
    for s in rows:
        table.add_row(str(s.id), s.xroad_id, s.base_url, str(len(s.operations)), str(s.enabled))
    console.print(table)


@service_app.command("disable")
def service_disable(
    service: str = typer.Argument(..., help="INSTANCE/CLASS/CODE/SUB/SERVICE"),
) -> None:
    """Stop a service (the gateway refuses calls to it)."""
    with _session() as session:
        info = registry.disable_service(
            session=session, actor=ACTOR, service_id=_service(session, service).id
        )
    console.print(f"Service {info.xroad_id} is disabled.")


# --- rights ------------------------------------------------------------------------------------


@right_app.command("grant")
def right_grant(
    service: str = typer.Option(..., help="INSTANCE/CLASS/CODE/SUB/SERVICE"),
    client: str = typer.Option(..., help="Consumer subsystem INSTANCE/CLASS/CODE/SUB"),
    operation: str = typer.Option(None, help="Only this operation, e.g. 'GET /persons/{nik}'."),
) -> None:
    """Let a consumer subsystem call a service (or one operation)."""
    with _session() as session:
        right = registry.grant_access(
            session=session,
            actor=ACTOR,
            service_id=_service(session, service).id,
            client_subsystem_id=_subsystem(session, client).id,
            operation=operation,
        )
    console.print(
        f"Right {right.id}: {right.client} may call {right.service} "
        f"({right.operation or 'every operation'})."
    )


@right_app.command("revoke")
def right_revoke(
    right_id: int = typer.Argument(..., help="The right's id (see `right list`)."),
) -> None:
    """Take an access right away."""
    with _session() as session:
        right = registry.revoke_access(session=session, actor=ACTOR, right_id=right_id)
    console.print(f"Revoked right {right.id} ({right.client} -> {right.service}).")


@right_app.command("list")
def right_list(service: str = typer.Option(None, help="Only this service's.")) -> None:
    """List access rights."""
    with _session() as session:
        service_id = _service(session, service).id if service else None
        rows = registry.list_rights(session=session, service_id=service_id)
    table = Table("id", "client", "service", "operation", "granted by")
    for r in rows:
        table.add_row(str(r.id), r.client, r.service, r.operation or "*", r.granted_by)
    console.print(table)


# --- mandates ----------------------------------------------------------------------------------


@mandate_app.command("add")
def mandate_add(
    service: str = typer.Option(..., help="INSTANCE/CLASS/CODE/SUB/SERVICE"),
    client_agency: str = typer.Option(..., help="The consumer agency, e.g. kemensos."),
    purpose: str = typer.Option(..., help="The purpose the law allows, e.g. bansos."),
    legal_basis: str = typer.Option(..., help="The law, e.g. 'UU 13/2011 Pasal 8'."),
    valid_until: datetime = typer.Option(None, help="End (ISO date-time, UTC)."),
) -> None:
    """Register a legal mandate."""
    from datetime import UTC

    with _session() as session:
        mandate = registry.add_mandate(
            session=session,
            actor=ACTOR,
            service_id=_service(session, service).id,
            client_agency_id=client_agency,
            purpose=purpose,
            legal_basis=legal_basis,
            valid_until=valid_until.replace(tzinfo=UTC) if valid_until else None,
        )
    console.print(f"Mandate {mandate.id} registered.")


@mandate_app.command("list")
def mandate_list(service: str = typer.Option(None, help="Only this service's.")) -> None:
    """List legal mandates."""
    with _session() as session:
        service_id = _service(session, service).id if service else None
        rows = registry.list_mandates(session=session, service_id=service_id)
    table = Table("id", "service id", "client member", "purpose", "legal basis", "until")
    for m in rows:
        table.add_row(
            str(m.id),
            str(m.service_id),
            f"{m.client_member_class}/{m.client_member_code}",
            m.purpose,
            m.legal_basis,
            m.valid_until.isoformat() if m.valid_until else "-",
        )
    console.print(table)


# --- keys --------------------------------------------------------------------------------------


@key_app.command("list")
def key_list(revoked: bool = typer.Option(False, help="Include revoked keys.")) -> None:
    """List members' keys."""
    with _session() as session:
        rows = keys.list_keys(session=session, include_revoked=revoked)
    table = Table("key id", "member", "subsystem id", "hosted", "revoked")
    for k in rows:
        table.add_row(
            k.key_id,
            f"{k.member_class}/{k.member_code}",
            str(k.subsystem_id or "-"),
            str(k.hosted),
            str(k.revoked),
        )
    console.print(table)


@key_app.command("register")
def key_register(
    subsystem: str = typer.Option(..., help="INSTANCE/CLASS/CODE/SUBSYSTEM"),
    public_key: str = typer.Option(..., help="base64url of the raw 32 bytes, or a PEM file path."),
    key_id: str = typer.Option(None, help="Key id (default: the RFC 7638 thumbprint)."),
) -> None:
    """Register the public key a subsystem's own system signs with."""
    text = public_key
    candidate = Path(public_key)
    if len(public_key) < 4096 and candidate.is_file() and candidate.stat().st_size < 4096:
        text = candidate.read_text(encoding="utf-8")
    with _session() as session:
        info = keys.add_member_key(
            session=session,
            actor=ACTOR,
            subsystem_id=_subsystem(session, subsystem).id,
            public_key=keys.decode_public_key(text),
            key_id=key_id,
        )
    console.print(f"Registered key {info.key_id}.")
