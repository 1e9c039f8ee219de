"""Architecture rules, checked on the real code base; each checker also proves it can fail.

- every route declares exactly one access rule;
- migrations have one head, go up, down and up again, and match the models;
- `satu.core` imports no domain, and domains meet only through `service`, `schemas`, `events`;
- import-linter's contracts (in pyproject.toml) hold;
- no naive "now" anywhere.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy import Column, Index, Integer, MetaData, Table, create_engine, inspect
from sqlalchemy.engine import Engine
from starlette.routing import Mount, Route

from satu.app import create_app, import_models
from satu.core.auth import access_of, access_rule, public
from satu.core.config import Settings
from satu.core.db import Base, make_engine
from satu.core.migrations import (
    MIGRATIONS_DIR,
    alembic_config,
    current_heads,
    downgrade,
    include_object,
    script_heads,
    upgrade,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "satu"

# Modules that wire every domain together and so may import anything.
COMPOSITION_ROOTS = ("satu/app.py", "satu/cli.py", "satu/demo.py", "satu/__main__.py")
COMPOSITION_ROOT_DIRS = ("satu/migrations/",)

# What one domain may import from another.
PUBLISHED_MODULES = ("service", "schemas", "events")


# --- every route declares exactly one access rule ------------------------------------------


def access_rules_of(dependant: Dependant) -> list[str]:
    """The outermost access rules in a dependant tree (an access rule's own needs are its own)."""
    rules: list[str] = []
    for dependency in dependant.dependencies:
        rule = access_of(dependency.call)
        if rule is not None:
            rules.append(rule)
        else:
            rules.extend(access_rules_of(dependency))
    return rules


def doc_paths(app: FastAPI) -> set[str]:
    """FastAPI's own documentation routes: they describe the API, they serve no data."""
    urls = (app.docs_url, app.redoc_url, app.openapi_url, app.swagger_ui_oauth2_redirect_url)
    return {url for url in urls if url}


def checked_routes(app: FastAPI) -> list[RouteContext]:
    """Every route the app serves (included routers flattened), minus mounts and docs."""
    skip = doc_paths(app)
    return [
        context
        for context in iter_route_contexts(app.routes)
        if not isinstance(context.original_route, Mount) and context.path not in skip
    ]


def route_access_problems(app: FastAPI) -> list[str]:
    """Each route that does not depend on exactly one access rule, explained."""
    problems = []
    for context in checked_routes(app):
        route = context.original_route
        if isinstance(route, APIRoute):
            rules = access_rules_of(context.dependant)
        elif isinstance(route, Route):
            rule = access_of(route.endpoint)
            rules = [rule] if rule else []
        else:
            rules = []
        if len(rules) != 1:
            methods = ",".join(sorted(context.methods or []))
            problems.append(f"{methods} {context.path}: access rules {rules}")
    return problems


def test_every_route_declares_exactly_one_access_rule(settings: Settings, engine: Engine) -> None:
    app = create_app(settings, engine=engine)
    paths = {context.path for context in checked_routes(app)}
    assert {"/", "/healthz", "/readyz", "/metrics"} <= paths
    assert route_access_problems(app) == []


def test_route_access_checker_flags_missing_and_double_rules() -> None:
    @access_rule("staff")
    def staff() -> None:
        """A second, synthetic access rule."""

    @access_rule("admin")
    def admin(_: None = Depends(staff)) -> None:
        """An access rule built on another: counts once."""

    def helper(_: None = Depends(public)) -> None:
        """A plain dependency that itself requires an access rule."""

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    router = APIRouter()

    @router.get("/none")
    def no_rule() -> None: ...

    @router.get("/two", dependencies=[Depends(public), Depends(staff)])
    def two_rules() -> None: ...

    @router.get("/nested", dependencies=[Depends(helper)])
    def nested_rule() -> None: ...

    @router.get("/layered", dependencies=[Depends(admin)])
    def layered_rule() -> None: ...

    app.include_router(router)
    guarded = APIRouter()

    @guarded.get("/guarded")
    def guarded_by_include() -> None: ...

    @guarded.get("/guarded-twice", dependencies=[Depends(public)])
    def guarded_twice() -> None: ...

    app.include_router(guarded, prefix="/inc", dependencies=[Depends(public)])

    async def plain(request: Any) -> None: ...

    app.router.routes.append(Route("/plain", plain))
    problems = route_access_problems(app)
    assert any(p.startswith("GET /none") for p in problems)
    assert any(p.startswith("GET /two") and "'public', 'staff'" in p for p in problems)
    assert any("/plain" in p for p in problems)
    assert any(p.startswith("GET /inc/guarded-twice") for p in problems)
    assert not any(p.startswith("GET /inc/guarded:") for p in problems)
    assert not any("/nested" in p or "/layered" in p for p in problems)
    assert len(problems) == 4


# --- migrations ---------------------------------------------------------------------------


def migration_head_problems(script: ScriptDirectory) -> list[str]:
    """Why a migration history does not end in exactly one head."""
    heads = script.get_heads()
    return [] if len(heads) == 1 else [f"expected one head, found {sorted(heads)}"]


def test_migrations_have_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert migration_head_problems(script) == []
    assert script_heads() == tuple(script.get_heads())


def test_head_checker_flags_two_heads(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (tmp_path / "script.py.mako").write_text((MIGRATIONS_DIR / "script.py.mako").read_text())
    for revision in ("aaaa", "bbbb"):
        (versions / f"{revision}_branch.py").write_text(
            f'revision = "{revision}"\ndown_revision = None\nbranch_labels = None\n'
            "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
        )
    config = alembic_config("sqlite://")
    config.set_main_option("script_location", str(tmp_path))
    problems = migration_head_problems(ScriptDirectory.from_config(config))
    assert problems == ["expected one head, found ['aaaa', 'bbbb']"]


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


@pytest.fixture
def scratch_engine(settings: Settings, scratch_database_url: str) -> Iterator[Engine]:
    """An engine on an empty scratch database."""
    engine = make_engine(settings, scratch_database_url)
    yield engine
    engine.dispose()


def test_migrations_upgrade_downgrade_upgrade(scratch_engine: Engine) -> None:
    import_models()
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revisions = [rev.revision for rev in script.walk_revisions()]  # newest first
    assert _tables(scratch_engine) == set()

    upgrade(scratch_engine)
    assert _tables(scratch_engine) == set(Base.metadata.tables)
    # Walk down one revision at a time; every step must also go back up and down again.
    for below in [*revisions[1:], None]:
        downgrade(scratch_engine, "-1")
        with scratch_engine.connect() as connection:
            assert current_heads(connection) == ((below,) if below else ())
        upgrade(scratch_engine, "+1")
        downgrade(scratch_engine, "-1")
    assert _tables(scratch_engine) == set()
    upgrade(scratch_engine)
    with scratch_engine.connect() as connection:
        assert current_heads(connection) == script_heads()
    assert _tables(scratch_engine) == set(Base.metadata.tables)


def model_migration_differences(engine: Engine, metadata: MetaData) -> list[Any]:
    """What autogenerate would write if run now: empty when models and migrations agree."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "target_metadata": metadata,
                "include_object": include_object,
            },
        )
        return list(compare_metadata(context, metadata))


def test_models_and_migrations_agree(engine: Engine) -> None:
    import_models()
    assert model_migration_differences(engine, Base.metadata) == []


def test_autogenerate_checker_flags_a_table_without_migration(engine: Engine) -> None:
    import_models()
    metadata = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    Table("unmigrated_thing", metadata, Column("id", Integer, primary_key=True))
    differences = model_migration_differences(engine, metadata)
    assert [d[0] for d in differences] == ["add_table"]
    assert differences[0][1].name == "unmigrated_thing"


# --- import boundaries (AST) --------------------------------------------------------------


@dataclass(frozen=True)
class ImportViolation:
    """One import that crosses a boundary it may not cross."""

    path: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.imported}: {self.rule}"


def module_name(relative: str) -> str:
    """`satu/satudata/service.py` -> `satu.satudata.service`."""
    parts = relative.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module an AST imports, absolute, with its line (`from a import b` yields `a.b`)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base


def boundary_violations(relative: str, source: str) -> list[ImportViolation]:
    """Imports in one file of `satu/` that break the domain boundaries."""
    if relative in COMPOSITION_ROOTS or relative.startswith(COMPOSITION_ROOT_DIRS):
        return []
    parts = relative.split("/")
    if len(parts) < 3:  # satu/__init__.py and other top-level modules
        return []
    domain = parts[1]
    module = module_name(relative)
    tree = ast.parse(source, filename=relative)
    found = []
    for line, imported in imported_modules(tree, module, relative.endswith("__init__.py")):
        names = imported.split(".")
        if names[0] != "satu" or len(names) < 2:
            continue
        target = names[1]
        if target in ("app", "cli", "demo", "migrations", "__main__"):
            found.append(ImportViolation(relative, line, imported, "composition roots import you"))
        elif domain == "core" and target != "core" and target != "__version__":
            found.append(ImportViolation(relative, line, imported, "satu.core imports no domain"))
        elif target not in ("core", domain, "__version__") and (
            len(names) < 3 or names[2] not in PUBLISHED_MODULES
        ):
            found.append(
                ImportViolation(
                    relative,
                    line,
                    imported,
                    f"use satu.{target}.service, .schemas or .events only",
                )
            )
    return found


def python_files(root: Path) -> Iterable[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_domain_boundaries_hold() -> None:
    violations = []
    for path in python_files(PACKAGE):
        relative = path.relative_to(ROOT).as_posix()
        violations += boundary_violations(relative, path.read_text(encoding="utf-8"))
    assert [str(v) for v in violations] == []


@pytest.mark.parametrize(
    ("relative", "source", "rule"),
    [
        ("satu/core/web.py", "from satu.portal import views\n", "satu.core imports no domain"),
        ("satu/core/db.py", "import satu.satudata.service\n", "satu.core imports no domain"),
        ("satu/portal/views.py", "from satu.satudata.models import Region\n", "use satu.satudata"),
        ("satu/portal/views.py", "from satu.satudata import models\n", "use satu.satudata"),
        ("satu/identity/service.py", "import satu.exchange.api\n", "use satu.exchange"),
        ("satu/portal/views.py", "from satu.app import create_app\n", "composition roots"),
        ("satu/core/errors.py", "from ..satudata import service\n", "satu.core imports no"),
        ("satu/portal/sub/x.py", "from ...satudata.models import Agency\n", "use satu.satudata"),
    ],
)
def test_boundary_checker_flags_violations(relative: str, source: str, rule: str) -> None:
    violations = boundary_violations(relative, source)
    assert len(violations) == 1
    assert violations[0].rule.startswith(rule)


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("satu/portal/views.py", "from satu.satudata import service as satudata\n"),
        ("satu/portal/views.py", "from satu.satudata.schemas import RegionOut\n"),
        ("satu/portal/views.py", "import satu.complaints.events\n"),
        ("satu/portal/views.py", "from satu.core.web import render\nfrom . import helpers\n"),
        ("satu/satudata/service.py", "from satu.satudata.models import Region\n"),
        ("satu/satudata/service.py", "from .models import Region\n"),
        ("satu/core/web.py", "from satu import __version__\n"),
        ("satu/app.py", "from satu.satudata.models import Region\n"),
        ("satu/migrations/env.py", "from satu.app import import_models\n"),
    ],
)
def test_boundary_checker_allows_published_modules(relative: str, source: str) -> None:
    assert boundary_violations(relative, source) == []


# --- import-linter ------------------------------------------------------------------------


def _lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(executable), "--no-cache", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_linter_contracts_are_kept() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_linter_flags_a_broken_contract(tmp_path: Path) -> None:
    config = tmp_path / "contracts.ini"
    config.write_text(
        "[importlinter]\nroot_package = satu\n\n"
        "[importlinter:contract:synthetic]\nname = ops may not use the database\n"
        "type = forbidden\nsource_modules = satu.core.ops\n"
        "forbidden_modules = satu.core.migrations\n"
    )
    result = _lint_imports("--config", str(config))
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


# --- no naive datetimes -------------------------------------------------------------------

# Calls that give a local or naive time: (object name, method) -> why.
_NAIVE_CALLS = {
    ("datetime", "utcnow"): "naive; use satu.core.db.utcnow()",
    ("datetime", "utcfromtimestamp"): "naive; use datetime.fromtimestamp(ts, UTC)",
    ("datetime", "today"): "local and naive; use satu.core.db.utcnow()",
    ("date", "today"): "local date; use satu.core.db.utcnow().date()",
}
_TZ_REQUIRED = {("datetime", "now"), ("datetime", "fromtimestamp")}


def naive_datetime_calls(relative: str, source: str) -> list[str]:
    """Calls that produce naive or local datetimes."""
    found = []
    for node in ast.walk(ast.parse(source, filename=relative)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
        key = (owner_name, node.func.attr)
        if key in _NAIVE_CALLS:
            found.append(f"{relative}:{node.lineno} {owner_name}.{key[1]}(): {_NAIVE_CALLS[key]}")
        elif key in _TZ_REQUIRED:
            positional_tz = len(node.args) >= (1 if key[1] == "now" else 2)
            tz = next((k.value for k in node.keywords if k.arg == "tz"), None)
            if positional_tz:
                tz = node.args[0] if key[1] == "now" else node.args[1]
            if tz is None or (isinstance(tz, ast.Constant) and tz.value is None):
                found.append(f"{relative}:{node.lineno} {owner_name}.{key[1]}() without tz")
    return found


def test_no_naive_datetimes() -> None:
    found = []
    for folder in ("satu", "tests", "bench"):
        for path in python_files(ROOT / folder):
            relative = path.relative_to(ROOT).as_posix()
            found += naive_datetime_calls(relative, path.read_text(encoding="utf-8"))
    assert found == []


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("from datetime import datetime\ndatetime.now()\n", True),
        ("import datetime\ndatetime.datetime.now()\n", True),
        ("datetime.now(None)\n", True),
        ("datetime.now(tz=None)\n", True),
        ("datetime.utcnow()\n", True),
        ("datetime.datetime.utcfromtimestamp(0)\n", True),
        ("datetime.fromtimestamp(0)\n", True),
        ("date.today()\n", True),
        ("datetime.now(UTC)\n", False),
        ("datetime.now(tz=UTC)\n", False),
        ("datetime.fromtimestamp(0, UTC)\n", False),
        ("utcnow()\n", False),
    ],
)
def test_naive_datetime_checker(source: str, flagged: bool) -> None:
    assert bool(naive_datetime_calls("x.py", source)) is flagged


def test_checkers_run_on_real_sources_only() -> None:
    """Guard against the scans silently covering nothing (e.g. a wrong root)."""
    files = [p.relative_to(ROOT).as_posix() for p in python_files(PACKAGE)]
    assert "satu/core/db.py" in files
    assert "satu/app.py" in files
    assert len(files) > 20


def test_scratch_database_is_apart_from_the_shared_one(
    engine: Engine, scratch_database_url: str
) -> None:
    scratch = create_engine(scratch_database_url)
    try:
        assert set(inspect(scratch).get_table_names()) == set()
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        scratch.dispose()


# --- documentation stays true ---------------------------------------------------------------


def undocumented_settings(readme: str, sources: dict[str, str]) -> list[str]:
    """Core settings and settings prefixes that the README's configuration section omits."""
    from satu.core.config import Settings as CoreSettings

    missing = [
        f"SATU_{name.upper()}"
        for name in CoreSettings.model_fields
        if f"`SATU_{name.upper()}`" not in readme
    ]
    for relative, source in sources.items():
        for prefix in re.findall(r"env_prefix=\"(SATU_[A-Z0-9_]+_)\"", source):
            if f"`{prefix}*`" not in readme:
                missing.append(f"{prefix}* ({relative})")
    return missing


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sources = {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for path in python_files(PACKAGE)
    }
    assert undocumented_settings(readme, sources) == []


def test_settings_documentation_checker_flags_omissions() -> None:
    readme = "| `SATU_ENV` | development |"
    missing = undocumented_settings(readme, {"satu/x.py": 'env_prefix="SATU_NEWTHING_"'})
    assert "SATU_DATABASE_URL" in missing
    assert "SATU_ENV" not in missing
    assert "SATU_NEWTHING_* (satu/x.py)" in missing


def test_readme_states_the_two_commands_first_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line]
    assert commands == ["python3 dev.py demo", "python3 dev.py test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    last_command = [line for line in ci.splitlines() if line and not line.startswith("#")][-1]
    assert last_command == "exec python3 dev.py test"


def test_only_declared_database_only_indexes_are_left_alone() -> None:
    import_models()
    region = Base.metadata.tables["satudata_region"]
    declared = region.info["database_only_indexes"][0]
    reflected = Table("satudata_region", MetaData(), Column("code", Integer))
    assert not include_object(Index(declared, reflected.c.code), declared, "index", True, None)
    assert include_object(Index("ix_stray", reflected.c.code), "ix_stray", "index", True, None)
    assert include_object(region, "satudata_region", "table", False, None)
