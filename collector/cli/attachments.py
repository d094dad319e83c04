"""``retrofit-collector attachments``: an enterprise's file (一企一档): add, list, withdraw, get.

A platform engineer's documents (contract, invoices with their amounts, proofs of payment,
the summary report) as PDF, PNG or JPEG, checked by content and stored in the registry under
their SHA-256 (docs/collector.md, "Enterprise files"). Every command takes the collector's
configuration (``--config PATH`` or ``RV_COLLECTOR_CONFIG``): its registry and its
``attachments.max_bytes``. Exit codes: 0 done (a duplicate too: nothing stored), 1 refused
(type, size, name, kind, amount; an enterprise no plan lists), 2 a file or the registry that
cannot be read or opened, 3 the output cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli._common import (
    DEFAULT_CONFIG,
    EXIT_ERRORS,
    EXIT_UNREADABLE,
    ByOption,
    ConfigOption,
    console,
    count,
    error_exit,
    load_config,
    open_registry,
    refuse,
    write_output,
)
from contract.terminal import say

if TYPE_CHECKING:
    from collector.registry import Attachment, Registry
    from collector.registry.enterprises import Listing

__all__ = ["register"]

attachments_app = typer.Typer(
    help="An enterprise's file (一企一档): contracts, invoices, payment proofs, summary reports."
)

EnterpriseArgument = Annotated[str, typer.Argument(help="Enterprise id in the plan.")]


def _listing(store: Registry, enterprise: str) -> Listing:
    found = store.find_enterprise(None, enterprise)
    if found is None:
        raise error_exit(f"no loaded plan lists enterprise {enterprise}", EXIT_ERRORS)
    return found


def _line(item: Attachment) -> str:
    from collector.attachments import cny_text
    from collector.registry.records import format_time

    amount = "" if item.amount_fen is None else f"  {cny_text(item.amount_fen)} CNY"
    gone = item.withdrawn
    withdrawn = (
        "" if gone is None else f"  WITHDRAWN by {gone.by} at {format_time(gone.at)}: {gone.reason}"
    )
    return (
        f"{item.sha256}  {item.kind}  {item.name}  {item.media_type}  {item.size} bytes"
        f"{amount}  by {item.attached_by} at {format_time(item.attached_at)}{withdrawn}"
    )


@attachments_app.command("add")
def attachments_add(
    enterprise: EnterpriseArgument,
    file: Annotated[Path, typer.Argument(help="The document: a PDF, PNG or JPEG file.")],
    kind: Annotated[
        str,
        typer.Option("--kind", help="contract, invoice, payment_proof or summary_report."),
    ],
    by: ByOption,
    amount: Annotated[
        str | None,
        typer.Option("--amount", help="An invoice's amount in CNY, e.g. 125000.00 (invoices)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The name shown (default: the file's name).")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Attach a document to an enterprise's file; the same bytes twice are stored once."""
    from collector.attachments import AttachmentRefused, checked_upload
    from collector.errors import CollectorError
    from contract.errors import InputFileError
    from contract.files import read_bounded

    settings = load_config(config)
    limit = settings.attachments.max_bytes
    try:
        content = read_bounded(file, limit, expected="a PDF, PNG or JPEG document")
    except InputFileError as exc:
        code = EXIT_ERRORS if exc.reason == "too_large" else EXIT_UNREADABLE
        raise error_exit(exc, code) from None
    with open_registry(settings.registry) as store:
        try:
            upload = checked_upload(
                content, kind=kind, name=file.name if name is None else name, amount=amount,
                max_bytes=limit,
            )  # fmt: skip
            result = store.attach(enterprise, upload, by=by)
        except AttachmentRefused as exc:
            raise error_exit(f"{file}: {exc}", EXIT_ERRORS) from None
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    item = result.attachment
    if result.created:
        say(console, f"attached to {item.platform}/{item.enterprise}: {_line(item)}")
    else:
        say(
            console,
            f"already in the file of {item.platform}/{item.enterprise}, nothing stored: "
            f"{_line(item)}",
            "yellow",
        )


@attachments_app.command("list")
def attachments_list(enterprise: EnterpriseArgument, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """List an enterprise's documents, and its invoiced total beside the plan's cost."""
    from collector.attachments import cny_text
    from collector.registry import invoiced_fen

    settings = load_config(config)
    with open_registry(settings.registry) as store:
        _, platform, found = _listing(store, enterprise)
        items = store.attachments(platform.id, found.id)
    for item in items:
        say(console, _line(item))
    say(console, count(len(items), "document"))
    invoiced = invoiced_fen(items)
    shown = "no invoice" if invoiced is None else f"{cny_text(invoiced)} CNY"
    say(
        console,
        f"invoiced total: {shown}; plan's retrofit cost: {cny_text(found.retrofit_cost_fen)} CNY",
    )


@attachments_app.command("withdraw")
def attachments_withdraw(
    enterprise: EnterpriseArgument,
    sha256: Annotated[str, typer.Argument(help="The document's SHA-256 (64 hex digits).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit).")],
    by: ByOption,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Withdraw a document (a wrong file, kind or amount): it stays listed, marked, and no
    longer counts; the same bytes may then be attached again."""
    from collector.errors import CollectorError

    settings = load_config(config)
    with open_registry(settings.registry) as store:
        _, platform, found = _listing(store, enterprise)
        try:
            item = store.withdraw_attachment(
                platform.id, found.id, sha256.strip().lower(), reason=reason, by=by
            )
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    say(console, f"withdrawn from {item.platform}/{item.enterprise}: {_line(item)}")


@attachments_app.command("get")
def attachments_get(
    enterprise: EnterpriseArgument,
    sha256: Annotated[str, typer.Argument(help="The document's SHA-256 (64 hex digits).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the document.")],
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who reads it (kept in the audit; default: your login name)."),
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Write one document of an enterprise's file to ``--out`` (audited, as a download)."""
    import getpass
    import socket

    settings = load_config(config)
    reader = by if by is not None else getpass.getuser()
    with open_registry(settings.registry) as store:
        _, platform, found = _listing(store, enterprise)
        try:
            held = store.download_attachment(
                platform.id, found.id, sha256.strip().lower(), by=reader,
                source=f"cli {socket.gethostname()}",
            )  # fmt: skip
        except ValueError as exc:
            raise refuse(exc) from None
    if held is None:
        raise error_exit(f"enterprise {enterprise} has no document {sha256[:64]}", EXIT_ERRORS)
    write_output(out, held[1])
    say(console, f"wrote {out}: {_line(held[0])}")


def register(app: typer.Typer) -> None:
    """Add the ``attachments`` command group to ``app``."""
    app.add_typer(attachments_app, name="attachments")
