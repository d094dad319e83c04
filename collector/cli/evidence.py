"""``retrofit-collector evidence|rollup``: evidence bundles from the registry and InfluxDB.

:func:`register` adds the two commands to the collector's Typer app. Both read the collector's
configuration (``--config``: the registry and InfluxDB), build the documents
(:mod:`collector.bundle.build`), write the bundle with its manifest
(:mod:`collector.bundle.write`), signed when ``bundle.signing_key_path`` names a key, and print
the manifest's SHA-256 and the key's fingerprint. docs/evidence-bundle.md.

Exit codes: 0 bundle written (whatever the verdicts); 1 refused: no such enterprise,
platform or plan, or an invalid configuration; 2 unreadable configuration, a bundle key that
cannot be used, or bad arguments; 3 the output directory cannot take the bundle; 4 the
registry or InfluxDB cannot be used.
A user mistake never prints a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import typer

from collector.cli._common import (
    EXIT_ERRORS,
    EXIT_OUTPUT,
    EXIT_UNAVAILABLE,
    EXIT_UNREADABLE,
    ConfigOption,
    console,
    error_exit,
    load_config,
)
from collector.cli.bundle_key import load_signing_key
from contract.terminal import say

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from collector.config import CollectorConfig
    from collector.evidence.document import EnterpriseEvidence

#: The bootstrap seed by default: collector.evidence.change.DEFAULT_SEED, written out so that
#: loading the command line does not import numpy, scipy and statsmodels (a test keeps them equal).
DEFAULT_SEED = 20220722
#: collector.bundle.ReportChoice, written out for the same reason (a test keeps them equal).
Reports = Literal["all", "html", "none"]

__all__ = ["DEFAULT_SEED", "Reports", "register"]

T = TypeVar("T")

OutOption = Annotated[
    Path, typer.Option("--out", help="Directory for the bundle: new, empty, or an earlier bundle.")
]
SeedOption = Annotated[
    int, typer.Option("--seed", help="Seed of the bootstrap (recorded in the bundle).")
]
ReportsOption = Annotated[
    Reports,
    typer.Option(
        "--reports",
        help="Rendered reports beside the JSON: all (HTML and PDF), html (no PDF), none.",
    ),
]
PdfForOption = Annotated[
    list[str] | None,
    typer.Option(
        "--pdf-for",
        help="With --reports all: PDFs only for these enterprises (repeat the option); the "
        "others get HTML. The platform and province reports always get PDFs.",
    ),
]
PlanOption = Annotated[
    str | None,
    typer.Option("--plan", help="Plan key <province code>-<batch year> (default: the only one)."),
]


def _settings(config: Path) -> tuple[CollectorConfig, Ed25519PrivateKey | None]:
    """The configuration and its bundle key, loaded before any work (a bad key stops here)."""
    settings = load_config(config)
    return settings, load_signing_key(settings, config)


def _run(settings: CollectorConfig, work: Callable[..., Awaitable[T]]) -> T:
    """Open the registry and the store of ``settings``, run ``work(registry, store)``, and
    turn every expected failure into a message and an exit code."""
    from collector.bundle import BundleError
    from collector.errors import NotFoundError, RegistryUnavailable
    from collector.registry import Registry
    from collector.store import StoreError

    async def main() -> T:
        async with settings.store() as store:
            with Registry(settings.registry) as registry:
                return await work(registry, store)

    try:
        return asyncio.run(main())
    except NotFoundError as exc:
        raise error_exit(exc, EXIT_ERRORS) from None
    except BundleError as exc:
        raise error_exit(exc, EXIT_OUTPUT) from None
    except (RegistryUnavailable, StoreError) as exc:
        raise error_exit(exc, EXIT_UNAVAILABLE) from None


def _ids(pdf_for: list[str] | None) -> frozenset[str] | None:
    return frozenset(pdf_for) if pdf_for else None


def _seal_lines(documents: Iterable[EnterpriseEvidence], signer: Ed25519PrivateKey | None) -> None:
    """One line per enterprise bundle: who signed it, its device-days by seal outcome."""
    from collector.proof import fingerprint
    from collector.report.i18n import seal_line

    signed_by = None if signer is None else fingerprint(signer.public_key())
    for doc in documents:
        say(console, f"{doc.enterprise.id}: {seal_line(doc.seals, signed_by, 'en')}")


def _sealed(
    kind: str, out: Path, manifest_hash: str, summary: str, signer: Ed25519PrivateKey | None
) -> None:
    from collector.proof import SIGNATURE_NAME, fingerprint

    say(console, summary)
    say(console, f"{kind} bundle written to {out}")
    say(console, f"manifest.json sha256 {manifest_hash}")
    if signer is None:
        say(console, "unsigned: no bundle.signing_key_path in the configuration")
    else:
        say(console, f"{SIGNATURE_NAME} signed by {fingerprint(signer.public_key())}")


def evidence(
    enterprise: Annotated[
        str | None, typer.Argument(help="Enterprise id (or --platform for all of a platform).")
    ] = None,
    out: OutOption = Path("evidence"),
    platform: Annotated[
        str | None,
        typer.Option("--platform", help="Every enterprise of this platform, and its roll-up."),
    ] = None,
    plan: PlanOption = None,
    seed: SeedOption = DEFAULT_SEED,
    reports: ReportsOption = "all",
    pdf_for: PdfForOption = None,
    config: ConfigOption = Path("collector.yaml"),
) -> None:
    """Build the evidence bundle of one enterprise, or of a platform and all its enterprises.

    With ENTERPRISE: ``evidence.json``, the rendered reports and ``manifest.json`` in --out.
    With --platform (and no ENTERPRISE): ``platform.json`` in --out and each enterprise's
    bundle in --out/<enterprise id>/. Prints the verdict, the manifest's SHA-256 and, with
    bundle.signing_key_path, the fingerprint of the key that signed it; then one line per
    enterprise bundle: its signer and its device-days sealed, different and unsealed.
    """
    from collector.bundle import (
        build_enterprise_bundle,
        build_platform,
        manifest_sha256,
        record_key_use,
        write_enterprise_bundle,
        write_platform_bundle,
    )

    if (enterprise is None) == (platform is None) or (enterprise is not None and plan):
        raise error_exit(
            "give an ENTERPRISE id, or --platform P (with --plan if needed)", EXIT_UNREADABLE
        )
    if enterprise is not None and pdf_for:
        raise error_exit(
            "--pdf-for goes with --platform (use --reports for one enterprise)", EXIT_UNREADABLE
        )
    settings, signer = _settings(config)
    if enterprise is not None:

        async def one(registry, store):  # type: ignore[no-untyped-def]  # typed by _run
            built = await build_enterprise_bundle(registry, store, enterprise, seed=seed)
            written = write_enterprise_bundle(
                built.document, out, reports=reports, signer=signer, proofs=built.proofs
            )
            subject = f"{built.document.platform.id}/{enterprise}"
            record_key_use(registry, signer, written, subject=subject, by="cli")
            return built.document, written

        doc, manifest = _run(settings, one)
        flags = (
            f"{len(doc.flags)} flags ({sum(f.severity == 'serious' for f in doc.flags)} serious)"
        )
        _sealed(
            "enterprise",
            out,
            manifest_sha256(manifest),
            f"{doc.enterprise.id}: {doc.status} after {len(doc.attempts)} attempt(s); {flags}",
            signer,
        )
        _seal_lines([doc], signer)
        return
    if platform is None:  # one of the two, checked above
        raise error_exit("give an ENTERPRISE id or --platform P", EXIT_UNREADABLE)

    async def every(registry, store):  # type: ignore[no-untyped-def]  # typed by _run
        built = await build_platform(registry, store, platform, seed=seed, plan_key=plan)
        written = write_platform_bundle(
            built, out, reports=reports, pdf_for=_ids(pdf_for), signer=signer
        )
        record_key_use(registry, signer, written, subject=platform, by="cli")
        return built, written

    built, manifest = _run(settings, every)
    rollup = built.rollup
    _sealed(
        "platform",
        out,
        manifest_sha256(manifest),
        f"{rollup.platform.id}: {rollup.passed_count} of {len(rollup.enterprises)} enterprises "
        f"passed (minimum {rollup.minimum}: {'met' if rollup.minimum_met else 'not met'}); "
        f"subsidy {rollup.total_fen // 100}.{rollup.total_fen % 100:02d} CNY",
        signer,
    )
    _seal_lines(built.enterprises, signer)


def rollup(
    out: OutOption = Path("rollup"),
    plan: PlanOption = None,
    seed: SeedOption = DEFAULT_SEED,
    reports: ReportsOption = "all",
    pdf_for: PdfForOption = None,
    config: ConfigOption = Path("collector.yaml"),
) -> None:
    """Build the province summary and every platform's roll-up (with its enterprises' bundles).

    Writes ``province.json`` in --out, each platform's bundle in --out/<platform id>/ and each
    enterprise's in --out/<platform id>/<enterprise id>/; prints the top manifest's SHA-256
    and the signing key's fingerprint.
    """
    from collector.bundle import (
        build_province,
        manifest_sha256,
        record_key_use,
        write_province_bundle,
    )

    settings, signer = _settings(config)

    async def everything(registry, store):  # type: ignore[no-untyped-def]  # typed by _run
        built = await build_province(registry, store, seed=seed, plan_key=plan)
        written = write_province_bundle(
            built, out, reports=reports, pdf_for=_ids(pdf_for), signer=signer
        )
        record_key_use(registry, signer, written, subject=built.summary.plan.key, by="cli")
        return built, written

    built, manifest = _run(settings, everything)
    summary = built.summary
    _sealed(
        "province",
        out,
        manifest_sha256(manifest),
        f"{summary.province.name} {summary.batch_year}: {summary.passed_count} of "
        f"{summary.enterprises} enterprises passed on {len(summary.platforms)} platform(s); "
        f"subsidy {summary.total_fen // 100}.{summary.total_fen % 100:02d} CNY",
        signer,
    )
    _seal_lines((doc for platform in built.platforms for doc in platform.enterprises), signer)


def register(app: typer.Typer) -> None:
    """Add the ``evidence`` and ``rollup`` commands to ``app``."""
    app.command("evidence")(evidence)
    app.command("rollup")(rollup)
