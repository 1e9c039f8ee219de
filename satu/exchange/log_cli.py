"""`satu exchange log verify|audit|sign-head`: check the transparency log, from outside or inside.

`verify` is what anyone can run against a Satu server over HTTP: it checks the latest signed
tree head with the log's public key, that it extends the head saved by an earlier run (RFC 9162
consistency proof), and the inclusion of chosen entries (inclusion proofs) or of all of them
(recomputing the root from every entry). `audit` re-checks the local database row by row.
Both exit non-zero when something does not verify.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import typer
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

from satu.core.config import get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.exchange import merkle, transparency

commands = typer.Typer()
log_app = typer.Typer(help="The transparency log: verify, audit, sign tree heads.")
commands.add_typer(log_app, name="log")
console = Console()
API = "/api/v1/exchange/log"


class VerifyError(Exception):
    """Something the log served does not verify."""


@contextmanager
def _session() -> Iterator[Session]:
    with transaction(make_sessionmaker(make_engine(get_settings()))) as session:
        yield session


@log_app.command("sign-head")
def sign_head() -> None:
    """Sign a tree head for the current log now (run it from cron, e.g. every minute)."""
    with _session() as session:
        head = transparency.sign_tree_head(session=session)
    console.print_json(json.dumps(head))


@log_app.command("audit")
def audit_command() -> None:
    """Re-check every stored entry, subtree hash and signed head in the local database."""
    with _session() as session, Progress(console=console, transient=True) as bar:
        task = bar.add_task("Auditing the log", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = transparency.audit(session=session, progress=progress)
    console.print(
        f"{report.entries} entries, {report.heads} signed heads, "
        f"{report.subtree_hashes} subtree hashes checked."
    )
    for problem in report.problems:
        where = f"entry {problem.index}" if problem.index is not None else ""
        if problem.tree_size is not None:
            where = f"head of size {problem.tree_size}"
        console.print(f"[red]{problem.kind}[/red] {where}: {problem.detail}")
    if not report.ok:
        console.print(f"[red]The log does not verify: {len(report.problems)} problem(s).[/red]")
        raise typer.Exit(1)
    console.print("[green]The log verifies.[/green]")


# --- verify over HTTP ----------------------------------------------------------------------------


def _get(http: httpx.Client, path: str, **params: Any) -> Any:
    response = http.get(API + path, params=params or None)
    if response.status_code != 200:
        detail = response.text[:300]
        raise VerifyError(f"GET {path} answered {response.status_code}: {detail}")
    return response.json()


def _b64(text: Any) -> bytes:
    return base64.b64decode(str(text), validate=True)


def _public_key(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise VerifyError("the log key is not an Ed25519 JWK")
    raw = base64.urlsafe_b64decode(str(jwk["x"]) + "=" * (-len(str(jwk["x"])) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def check_head(head: dict[str, Any], key: Ed25519PublicKey) -> None:
    """Raise unless the head's signature covers its TreeHeadDataV2."""
    data = transparency.tree_head_data(
        timestamp=int(head["timestamp"]),
        tree_size=int(head["tree_size"]),
        root_hash=_b64(head["sha256_root_hash"]),
    )
    try:
        key.verify(_b64(head["tree_head_signature"]), data)
    except InvalidSignature:
        raise VerifyError(
            f"the signature of the head of size {head['tree_size']} is wrong"
        ) from None


def check_consistency(http: httpx.Client, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Raise unless the tree of `new` extends the tree of `old`."""
    first, second = int(old["tree_size"]), int(new["tree_size"])
    old_root, new_root = _b64(old["sha256_root_hash"]), _b64(new["sha256_root_hash"])
    if second < first:
        raise VerifyError(f"the log shrank from {first} to {second} entries")
    if first == 0:
        return
    proof: list[bytes] = []
    if first < second:
        answer = _get(http, "/get-sth-consistency", first=first, second=second)
        proof = [_b64(h) for h in answer["consistency"]]
    if not merkle.verify_consistency(
        first=first, second=second, first_hash=old_root, second_hash=new_root, proof=proof
    ):
        raise VerifyError(
            f"the head of size {second} does not extend the saved head of size {first}"
        )


def check_inclusion(http: httpx.Client, head: dict[str, Any], index: int) -> None:
    """Raise unless entry `index` is proved to be in the tree of `head`."""
    size, root = int(head["tree_size"]), _b64(head["sha256_root_hash"])
    got = _get(http, "/get-entries", start=index, end=index)["entries"]
    if len(got) != 1 or got[0]["index"] != index:
        raise VerifyError(f"entry {index} was not served")
    leaf = merkle.leaf_hash(_b64(got[0]["leaf_input"]))
    proof = _get(http, "/proof-by-index", index=index, tree_size=size)
    path = [_b64(h) for h in proof["audit_path"]]
    if not merkle.verify_inclusion(
        leaf=leaf, index=index, tree_size=size, path=path, root_hash=root
    ):
        raise VerifyError(f"entry {index} is not included in the head of size {size}")


def check_all(http: httpx.Client, head: dict[str, Any], bar: Progress) -> None:
    """Raise unless the root recomputed from every entry is the head's root."""
    size, root = int(head["tree_size"]), _b64(head["sha256_root_hash"])
    task = bar.add_task("Checking every entry", total=size)
    stack: list[tuple[int, bytes]] = []
    pos = 0
    while pos < size:
        batch = _get(http, "/get-entries", start=pos, end=min(size, pos + 1000) - 1)["entries"]
        if not batch:
            raise VerifyError(f"the log served no entry at {pos}")
        for item in batch:
            if item["index"] != pos:
                raise VerifyError(f"expected entry {pos}, got {item['index']}")
            leaf = merkle.leaf_hash(_b64(item["leaf_input"]))
            if item.get("leaf_hash") not in (None, leaf.hex()):
                raise VerifyError(f"entry {pos} does not hash to the leaf hash served with it")
            level, h = 0, leaf
            while stack and stack[-1][0] == level:
                h = merkle.node_hash(stack.pop()[1], h)
                level += 1
            stack.append((level, h))
            pos += 1
            if pos == size:
                break
        bar.update(task, completed=pos)
    if merkle.fold([h for _, h in stack]) != root:
        raise VerifyError(f"the entries do not hash to the root of the head of size {size}")


@log_app.command("verify")
def verify(
    url: str = typer.Option(..., help="Base URL of the Satu server, e.g. https://satu.go.id"),
    state: Path | None = typer.Option(
        None, help="File holding the last verified head: checked for consistency, then updated."
    ),
    index: list[int] = typer.Option([], help="Check the inclusion of this entry (repeatable)."),
    sample: int = typer.Option(10, min=0, help="Also check this many random entries."),
    all_entries: bool = typer.Option(False, "--all", help="Recompute the root from every entry."),
    timeout: float = typer.Option(30.0, min=1.0, help="HTTP timeout in seconds."),
) -> None:
    """Verify a running Satu's log: signed head, consistency with the saved head, inclusion."""
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=timeout) as http:
            key = _public_key(_get(http, "/key"))
            head = _get(http, "/sth")
            check_head(head, key)
            size = int(head["tree_size"])
            console.print(f"Signed tree head: {size} entries, key {head['key_id']}.")
            if state is not None and state.exists():
                saved = json.loads(state.read_text())
                check_head(saved, key)
                check_consistency(http, saved, head)
                console.print(f"Consistent with the saved head of size {saved['tree_size']}.")
            chosen = set(index)
            if any(i < 0 or i >= size for i in chosen):
                raise VerifyError(f"entries to check must be below the tree size {size}")
            if size and sample:
                chosen |= set(random.sample(range(size), min(sample, size)))
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("Checking inclusion proofs", total=len(chosen))
                for i in sorted(chosen):
                    check_inclusion(http, head, i)
                    bar.advance(task)
                if all_entries:
                    check_all(http, head, bar)
            console.print(f"{len(chosen)} inclusion proof(s) verified.")
            if all_entries:
                console.print(f"All {size} entries hash to the signed root.")
    except (VerifyError, KeyError, ValueError, TypeError) as exc:
        console.print(f"[red]Verification failed:[/red] {exc}")
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        console.print(f"[red]Could not reach the log:[/red] {exc}")
        raise typer.Exit(2) from None
    if state is not None:
        state.write_text(json.dumps(head, indent=2) + "\n")
    console.print("[green]The log verifies.[/green]")


# `satu exchange verify`: the same verifier one level up, the name the exchange's spec gives it.
commands.command("verify")(verify)
