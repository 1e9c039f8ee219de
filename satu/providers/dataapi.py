"""The GovStack Digital Registries Data API (template 1.3.0), shared by the demo providers.

Operations on `/data/{registryName}/{versionNumber}`: `list` (GET, `search`, `filter`,
`ordering`, `page`, `pageSize`, `query.<field>`), `read`, `exists` (POST `{"query": {"content":
{...}}}`), `create` (POST `{"write": {"content": {...}}}`), `update` (PUT `{"query": ...,
"write": ...}`). Errors are JSON `{"detail": ..., "errors": [...]}`; a missing record on
`read` answers 404 `{"detail": "no record found"}` exactly as the template says.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

NOT_FOUND = "no record found"
MAX_PAGE_SIZE = 100
LIST_PARAMS = frozenset({"search", "filter", "ordering", "page", "pageSize"})
# The header the GovStack template names for the calling subsystem (X-Road's X-Road-Client).
CLIENT_HEADERS = ("X-Road-Client", "Information-Mediator-Client")


class DataApiError(Exception):
    """A refusal the Data API answers as `{"detail": ..., "errors": [...]}`."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []


class Content(BaseModel):
    """`{"content": {...}}`: the record (or the fields to match)."""

    model_config = ConfigDict(extra="forbid")

    content: dict[str, Any]


class QueryRequest(BaseModel):
    """Body of `read` and `exists`."""

    model_config = ConfigDict(extra="forbid")

    query: Content


class WriteRequest(BaseModel):
    """Body of `create`."""

    model_config = ConfigDict(extra="forbid")

    write: Content


class UpdateRequest(BaseModel):
    """Body of `update`: which record (`query`) and what to change (`write`)."""

    model_config = ConfigDict(extra="forbid")

    query: Content | None = None
    write: Content


class ExistsAnswer(BaseModel):
    """`{"answer": {"status": bool, "message": str}}`."""

    status: bool
    message: str = ""


class ListPage(BaseModel):
    """One page of `list`."""

    count: int = Field(description="Number of results (all pages)")
    next: str | None = Field(None, description="Relative URI of the next page")
    previous: str | None = Field(None, description="Relative URI of the previous page")
    results: list[dict[str, Any]]


Model = TypeVar("Model", bound=BaseModel)


def _location(loc: tuple[Any, ...], prefix: tuple[str, ...]) -> list[str]:
    return [*prefix, *(str(part) for part in loc)]


def validate_content(model: type[Model], content: dict[str, Any], *, where: str) -> Model:
    """`content` as `model`; a 400 listing every bad field otherwise."""
    try:
        return model.model_validate(content)
    except ValidationError as exc:
        errors = [
            {"location": _location(e["loc"], (where, "content")), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise DataApiError(400, f"invalid {where}.content", errors) from exc


def list_query(request: Request, fields: set[str]) -> dict[str, str]:
    """The `query.<field>` parameters (each once, known fields only); other names refused."""
    found: dict[str, str] = {}
    for name in request.query_params:
        values = request.query_params.getlist(name)
        if len(values) != 1:
            raise DataApiError(400, f"query parameter {name!r} given more than once")
        if name in LIST_PARAMS:
            continue
        field = name.removeprefix("query.")
        if not name.startswith("query.") or field not in fields:
            known = ", ".join(sorted(f"query.{f}" for f in fields))
            raise DataApiError(400, f"unknown query parameter {name!r}; known: {known}")
        found[field] = values[0]
    return found


def paging(request: Request) -> tuple[int, int, bool]:
    """`page` (from 1), `pageSize` (1..100, default 10) and whether `ordering` is descending."""
    params = request.query_params

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise DataApiError(400, f"{name} must be a whole number from {low} to {high}")
        return int(raw)

    page = number("page", 1, 1, 1_000_000)
    size = number("pageSize", 10, 1, MAX_PAGE_SIZE)
    ordering = (params.get("ordering") or "ascending").lower()
    if ordering not in ("ascending", "descending", "asc", "desc"):
        raise DataApiError(400, "ordering must be 'ascending' or 'descending'")
    return page, size, ordering.startswith("desc")


def page_answer(
    request: Request, *, count: int, results: list[dict[str, Any]], page: int, size: int
) -> ListPage:
    """The list answer; `next`/`previous` are relative references (valid behind the exchange)."""

    def link(number: int) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        return "?" + urlencode([*params, ("page", str(number))])

    has_next = page * size < count
    return ListPage(
        count=count,
        next=link(page + 1) if has_next else None,
        previous=link(page - 1) if page > 1 and (page - 1) * size < count + size else None,
        results=results,
    )


def install_data_api_errors(app: FastAPI) -> None:
    """Answer refusals and malformed requests as Data API JSON errors, never 500."""

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DataApiError)
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.errors:
            body["errors"] = exc.errors
        return JSONResponse(body, status_code=exc.status)

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"location": [str(p) for p in e.get("loc", ())], "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=400)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(DataApiError, refused)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)


def check_registry(registry: str, version: str, known: dict[str, set[str]]) -> None:
    """404 unless `registry` exists in `version`."""
    if registry not in known:
        raise DataApiError(404, f"no registry {registry!r}; registries: {', '.join(sorted(known))}")
    if version not in known[registry]:
        versions = ", ".join(sorted(known[registry]))
        raise DataApiError(404, f"registry {registry!r} has no version {version!r}: {versions}")


# --- mounting one registry's operations -----------------------------------------------------


class RegistryOps:
    """One registry (name + version) and the functions behind its Data API operations.

    `read(request, content) -> record | None`, `exists(request, content) -> (bool, message)`,
    `list(request) -> ListPage`, `create(request, content) -> record`,
    `update(request, query_content | None, write_content) -> record`.
    """

    def __init__(
        self,
        *,
        name: str,
        version: str,
        title: str,
        record: type[BaseModel],
        read: Any,
        exists: Any,
        list_: Any,
        create: Any,
        update: Any,
        list_fields: tuple[str, ...] = (),
    ) -> None:
        self.name, self.version, self.title, self.record = name, version, title, record
        self.read, self.exists, self.list, self.create, self.update = (
            read,
            exists,
            list_,
            create,
            update,
        )
        self.list_fields = list_fields


def mount_registry(app: FastAPI, ops: RegistryOps) -> None:
    """Add `list`, `read`, `exists`, `create` and `update` for one registry to `app`."""
    from pydantic import create_model

    base = f"/data/{ops.name}/{ops.version}"
    tag = [ops.title]
    record_answer = create_model(f"{ops.record.__name__}Answer", content=(ops.record, ...))
    not_found = {404: {"description": 'Record not found: `{"detail": "no record found"}`'}}
    refusals = {400: {"description": "Invalid request"}, 401: {"description": "Not signed"}}

    def list_records(request: Request) -> ListPage:
        return ops.list(request)

    def read(request: Request, body: QueryRequest) -> Any:
        record = ops.read(request, body.query.content)
        if record is None:
            raise DataApiError(404, NOT_FOUND)
        return {"content": record}

    def exists(request: Request, body: QueryRequest) -> Any:
        status, message = ops.exists(request, body.query.content)
        return {"answer": ExistsAnswer(status=status, message=message)}

    def create(request: Request, body: WriteRequest) -> Any:
        return {"content": ops.create(request, body.write.content)}

    def update(request: Request, body: UpdateRequest) -> Any:
        query = body.query.content if body.query is not None else None
        return {"content": ops.update(request, query, body.write.content)}

    exists_answer = create_model(f"{ops.record.__name__}Exists", answer=(ExistsAnswer, ...))
    common = {"tags": tag, "responses": refusals}
    fields = ", ".join(f"`query.{f}`" for f in ops.list_fields) or "none"
    app.add_api_route(
        base,
        list_records,
        methods=["GET"],
        operation_id=f"{ops.name}_list",
        summary="list",
        description=f"Records page by page. Filters: {fields}; `page`, `pageSize`, `ordering`.",
        response_model=ListPage,
        **common,
    )
    app.add_api_route(
        f"{base}/read",
        read,
        methods=["POST"],
        operation_id=f"{ops.name}_read",
        summary="read",
        description="The one record matching every field of `query.content`.",
        response_model=record_answer,
        **{**common, "responses": {**refusals, **not_found}},
    )
    app.add_api_route(
        f"{base}/exists",
        exists,
        methods=["POST"],
        operation_id=f"{ops.name}_exists",
        summary="exists",
        description="Whether a record matches every field of `query.content`.",
        response_model=exists_answer,
        **common,
    )
    app.add_api_route(
        f"{base}/create",
        create,
        methods=["POST"],
        operation_id=f"{ops.name}_create",
        summary="create",
        response_model=record_answer,
        **{**common, "responses": {**refusals, 403: {"description": "Not written this way"}}},
    )
    app.add_api_route(
        f"{base}/update",
        update,
        methods=["PUT"],
        operation_id=f"{ops.name}_update",
        summary="update",
        response_model=record_answer,
        **{**common, "responses": {**refusals, **not_found, 403: {"description": "Read-only"}}},
    )


def data_api_app(
    *,
    title: str,
    version: str,
    summary: str,
    description: str | None,
    factory: Any,
    registries: list[RegistryOps],
) -> FastAPI:
    """A provider's bare Data API app: the registries, their JSON errors and `/healthz`.

    `factory` makes the provider's database sessions; the signature door is put in front later.
    """
    app = FastAPI(
        title=title,
        version=version,
        summary=summary,
        description=description or "",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.sessionmaker = factory
    install_data_api_errors(app)
    for ops in registries:
        mount_registry(app, ops)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
