"""`satu demo`: migrate, load the reference data, seed demo content and serve, in one command.

This is a composition root like `satu.app` and `satu.cli`: it may wire every domain together.
Each domain can offer demo content through an idempotent `seed_demo(*, session)` function in
its `service.py`; `satu demo` runs every one it finds after the reference data is loaded.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import uvicorn
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from satu.app import create_app
from satu.core.config import Settings, get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.migrations import upgrade
from satu.providers import service as providers
from satu.providers.config import ProviderSettings, get_provider_settings
from satu.satudata import service as satudata

PACKAGE_DIR = Path(__file__).resolve().parent

# What to open once the demo runs: (path, what it shows).
DEMO_LINKS = (
    ("/", "Beranda portal (Bahasa Indonesia; ?lang=en untuk English)"),
    ("/wilayah", "Cari wilayah: provinsi, kabupaten/kota, kecamatan, desa"),
    ("/nik", "Periksa format NIK"),
    ("/api/docs", "Dokumentasi API (OpenAPI)"),
    ("/api/v1/regions?q=bandung", "API wilayah: pencarian"),
    ("/api/v1/agencies", "API instansi: kementerian/lembaga dan pemerintah daerah"),
    ("/api/v1/agencies/kemensos", "Kementerian Sosial"),
    ("/api/v1/agencies/kemendagri.dukcapil", "Ditjen Dukcapil (Kemendagri)"),
    ("/api/v1/regions/32.73", "Kota Bandung"),
    ("/api/v1/nik/3273014101900001", "API NIK: uraikan sebuah NIK"),
    ("/healthz", "Liveness"),
    ("/readyz", "Readiness: database dan migrasi"),
    ("/metrics", "Metrik Prometheus"),
)


@dataclass(frozen=True)
class Step:
    """One stage of preparing the demo database; `run` gets a callback to report progress."""

    label: str
    run: Callable[[Callable[[int], None]], Any]
    total: int | None = None


def domain_seeders() -> list[tuple[str, Callable[..., Any]]]:
    """Every `seed_demo(*, session)` offered by a domain's service module, by domain name."""
    seeders = []
    for service_file in sorted(PACKAGE_DIR.glob("*/service.py")):
        domain = service_file.parent.name
        if domain == "core":
            continue
        module = importlib.import_module(f"satu.{domain}.service")
        seeder = getattr(module, "seed_demo", None)
        if callable(seeder):
            seeders.append((domain, seeder))
    return seeders


def demo_notes() -> list[str]:
    """Lines a domain wants shown to the person running the demo (e.g. demo sign-ins).

    A domain offers them with `demo_notes() -> list[str]` in its service module.
    """
    notes: list[str] = []
    for service_file in sorted(PACKAGE_DIR.glob("*/service.py")):
        if service_file.parent.name == "core":
            continue
        module = importlib.import_module(f"satu.{service_file.parent.name}.service")
        provider = getattr(module, "demo_notes", None)
        if callable(provider):
            notes.extend(provider())
    return notes


def _describe(result: Any) -> str:
    """A short human summary of what a loader returned."""
    if result is None:
        return ""
    if isinstance(result, int):
        return f"{result:,}"
    if all(hasattr(result, name) for name in ("inserted", "updated", "unchanged")):
        return (
            f"{result.inserted:,} new, {result.updated:,} updated, {result.unchanged:,} unchanged"
        )
    if isinstance(result, dict):
        return ", ".join(f"{key}: {value}" for key, value in result.items())
    return str(result)


def reference_counts(engine: Engine) -> dict[str, int]:
    """How many regions per level and agencies the database holds."""
    from satu.satudata.models import Agency, Region

    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        by_level = dict(
            session.execute(select(Region.level, func.count()).group_by(Region.level)).all()
        )
        agencies = session.scalar(select(func.count()).select_from(Agency)) or 0
    names = {1: "provinces", 2: "regencies/cities", 3: "districts", 4: "villages"}
    counts = {names.get(level, f"level {level}"): n for level, n in sorted(by_level.items())}
    counts["agencies"] = agencies
    return counts


# The demo consumer's OIDC client (client_credentials) and how many family cards DTKS copies.
DEMO_EXCHANGE_CLIENT = "dinsos-bandung-bansos"
DTKS_SAMPLE = 150
# Filled by `wire_exchange_demo`: the consumer's fresh secret, shown in the demo notes.
EXCHANGE_CREDENTIALS: dict[str, str] = {}


def dtks_sample(session: Any, size: int = DTKS_SAMPLE) -> list[str]:
    """A deterministic sample of the population's family cards (the demo people's first)."""
    from satu.identity.models import Resident

    demo_cards = list(
        session.scalars(select(Resident.kk_number).where(Resident.nik.in_(_demo_niks())).distinct())
    )
    cards = list(
        session.scalars(select(Resident.kk_number).distinct().order_by(Resident.kk_number))
    )
    step = max(1, len(cards) // max(1, size))
    return list(dict.fromkeys(demo_cards + cards[::step][:size]))


def _demo_niks() -> list[str]:
    from satu.identity.demo import DEMO_PEOPLE

    return [person[0] for person in DEMO_PEOPLE]


def wire_exchange_demo(
    *, session: Any, settings: Settings, prov: ProviderSettings | None = None
) -> dict[str, Any]:
    """Give the demo consumer an OIDC client (a fresh secret each run), copy a sample of
    family cards into the DTKS register's own database."""
    from satu.exchange import service as exchange
    from satu.identity.oidc.clients import create_client, get_client, rotate_secret
    from satu.identity.oidc.schemas import ClientSpec

    agency_id = "kota-32.73.dinsos"
    if get_client(session=session, client_id=DEMO_EXCHANGE_CLIENT) is None:
        created = create_client(
            session=session,
            settings=settings,
            spec=ClientSpec(
                client_id=DEMO_EXCHANGE_CLIENT,
                name="Aplikasi Bansos — Dinas Sosial Kota Bandung (demo)",
                agency_id=agency_id,
                grant_types=["client_credentials"],
                redirect_uris=[],
                scopes=[],
                auth_method="client_secret_basic",
            ),
        )
        secret = created.client_secret or ""
    else:
        secret = rotate_secret(session=session, settings=settings, client_id=DEMO_EXCHANGE_CLIENT)
    consumer = exchange.link_consumer_client(session=session, client_id=DEMO_EXCHANGE_CLIENT)
    EXCHANGE_CREDENTIALS.update(
        client_id=DEMO_EXCHANGE_CLIENT, client_secret=secret, xroad_client=consumer.xroad_id
    )
    dtks = providers.seed_dtks(
        session=session, kk_numbers=dtks_sample(session), core=settings, prov=prov
    )
    return {"consumer": consumer.xroad_id, **dtks}


def exchange_notes(base_url: str) -> list[str]:
    """How to call the demo providers through the gateway with the consumer's credentials."""
    if not EXCHANGE_CREDENTIALS:
        return []
    creds = EXCHANGE_CREDENTIALS
    from satu.core.db import make_engine as _engine
    from satu.exchange import service as exchange

    engine = _engine(get_settings())
    try:
        with transaction(make_sessionmaker(engine)) as session:
            services = exchange.demo_services(session=session)
    finally:
        engine.dispose()
    lines = [
        "Exchange demo consumer (Dinas Sosial Kota Bandung):",
        f"  X-Road-Client: {creds['xroad_client']}",
        f"  OIDC client_credentials: {creds['client_id']} / {creds['client_secret']}",
        f"  token: curl -u {creds['client_id']}:{creds['client_secret']} "
        f"-d grant_type=client_credentials {base_url}/oauth/token",
    ]
    for service in services:
        lines.append(f"  service {service['xroad_id']} -> {service['base_url']}")
    population = next((s for s in services if s["name"] == providers.POPULATION), None)
    if population:
        lines.append(
            f"  call: curl -H 'Authorization: Bearer <token>' -H 'X-Road-Client: "
            f"{creds['xroad_client']}' -H 'X-Road-Purpose: social-assistance-eligibility' "
            f"-H 'X-Road-UserId: 3273015708900001' -H 'Content-Type: application/json' "
            f'-d \'{{"query":{{"content":{{"nik":"3273015708900001"}}}}}}\' '
            f"{base_url}/r1/{population['xroad_id']}/data/penduduk/1.0/read"
        )
    return lines


def prepare_demo(
    *, settings: Settings, console: Console, prov: ProviderSettings | None = None
) -> dict[str, int]:
    """Migrate, load regions and agencies, run domain demo seeders; return what is there."""
    if not settings.wilayah_dir.is_dir():
        raise FileNotFoundError(
            f"Reference data not found in {settings.wilayah_dir}; set SATU_DATA_DIR to the "
            "folder that holds wilayah/."
        )
    engine = make_engine(settings)
    factory = make_sessionmaker(engine)

    def in_transaction(action: Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:
        def run(advance: Callable[[int], None]) -> Any:
            with transaction(factory) as session:
                return action(session=session, **kwargs)

        return run

    def load_regions(advance: Callable[[int], None]) -> Any:
        with transaction(factory) as session:
            return satudata.load_regions(
                session=session, directory=settings.wilayah_dir, progress=advance
            )

    steps = [
        Step("Migrating the database", lambda advance: upgrade(engine)),
        Step(
            "Loading regions (Kode Wilayah 2025)",
            load_regions,
            total=satudata.count_rows(settings.wilayah_dir),
        ),
        Step("Loading agencies", in_transaction(satudata.load_agencies)),
    ]
    steps += [
        Step(f"Seeding demo content: {domain}", in_transaction(seeder))
        for domain, seeder in domain_seeders()
    ]
    steps.append(
        Step(
            "Wiring the exchange demo (consumer client, DTKS register)",
            in_transaction(wire_exchange_demo, settings=settings, prov=prov),
        )
    )
    console.print(
        f"[bold]Satu demo[/bold] on {engine.url.render_as_string(hide_password=True)}",
        highlight=False,
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for step in steps:
            task = progress.add_task(step.label, total=step.total or 1)
            started = time.perf_counter()
            result = step.run(lambda n, task=task: progress.advance(task, n))
            summary = _describe(result)
            took = time.perf_counter() - started
            done = f"[green]✓[/green] {step.label}" + (f" ({summary})" if summary else "")
            progress.update(task, completed=step.total or 1, description=f"{done} in {took:.1f}s")
    counts = reference_counts(engine)
    engine.dispose()
    return counts


def print_links(console: Console, base_url: str, counts: dict[str, int]) -> None:
    """Tell the person what there is to open (whole URLs, never cut)."""
    console.print(
        "Data: " + ", ".join(f"{n:,} {name}" for name, n in counts.items()), highlight=False
    )
    console.print("[bold]Buka di peramban / Open in a browser:[/bold]")
    width = max(len(base_url + path) for path, _ in DEMO_LINKS)
    for path, what in DEMO_LINKS:
        url = base_url + path
        console.print(f"  {url:<{width}}  {what}", highlight=False, soft_wrap=True)


def demo(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port to listen on."),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Serve after preparing (--no-serve: prepare only)."
    ),
) -> None:
    """Set up a demo: migrate, load reference data, seed demo content, then serve."""
    console = Console(soft_wrap=True)
    if not console.is_terminal:  # logs and CI: wide enough that lines are not cut
        console = Console(soft_wrap=True, width=160)
    settings = get_settings()
    base_url = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    prov = get_provider_settings()
    if not prov.jwks_url:  # the providers trust the keys this very server publishes
        prov = prov.model_copy(update={"jwks_url": f"{base_url}/api/v1/exchange/keys"})
    try:
        counts = prepare_demo(settings=settings, console=console, prov=prov)
    except (FileNotFoundError, satudata.ReferenceDataError) as exc:
        console.print(f"[red]Error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    print_links(console, base_url, counts)
    if not serve:
        console.print("Demo data ready. Start the server with: satu serve", highlight=False)
        return
    try:
        servers = providers.start_providers(core=settings, prov=prov)
    except (RuntimeError, OSError) as exc:
        console.print(f"[red]Error:[/red] demo providers: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    for note in [*demo_notes(), *exchange_notes(base_url)]:
        console.print(note, highlight=False)
    console.print(f"Serving on {base_url} — press Ctrl+C to stop.", highlight=False)
    if "SATU_LOG_JSON" not in os.environ and "SATU_LOG_LEVEL" not in os.environ:
        # A person is watching: plain text, warnings and errors only (the links are above).
        settings = settings.model_copy(update={"log_json": False, "log_level": "WARNING"})
    try:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            proxy_headers=True,
            server_header=False,
            access_log=False,
            log_config=None,
        )
    finally:
        for server in servers:
            server.stop()
