"""The offline bundle verifier: a reviewer checks an enterprise bundle against their own plan.

``retrofit-verify-bundle DIR --plan PLAN`` (:mod:`.cli`) runs :func:`verify_bundle`: the
manifest tree and the collector's signature (:mod:`.tree`), each day seal under the plan's
agent keys (:mod:`.seals`), the seal chains (:mod:`.chain`), every device-day against its seal
(:mod:`.compare`) and the evidence recomputed from the sealed rows (:mod:`.recompute`), in the
order of :mod:`.check`; a platform's bundle (its enterprises, its roll-up) in :mod:`.platform`.
:mod:`.findings` holds what it reports and the exit codes, :mod:`.load` the reading of the
bundle and the plan. It reaches ``contract``, ``collector.plan``,
``collector.evidence`` and ``collector.proof`` only: no registry, store, broker, web app or
report renderer, no database or network library (tests/test_import_rules.py), so it installs
on a laptop with the ``verify`` extra. docs/verify.md is its manual.
"""

from collector.verify.check import verify_bundle, verify_loaded
from collector.verify.errors import BundleUnreadable, PlanUnreadable, VerifyError
from collector.verify.findings import (
    EXIT_NOT_ANCHORED,
    EXIT_NOT_VERIFIED,
    EXIT_UNREADABLE,
    EXIT_VERIFIED,
    Finding,
    FindingCode,
    Report,
    finding_line,
)
from collector.verify.load import BundleFiles, TrustRoot, load_bundle, load_trust_root
from collector.verify.platform import (
    PLATFORM_NAME,
    PlatformResult,
    is_platform_bundle,
    verify_platform,
)

__all__ = [
    "EXIT_NOT_ANCHORED",
    "EXIT_NOT_VERIFIED",
    "EXIT_UNREADABLE",
    "EXIT_VERIFIED",
    "PLATFORM_NAME",
    "BundleFiles",
    "BundleUnreadable",
    "Finding",
    "FindingCode",
    "PlanUnreadable",
    "PlatformResult",
    "Report",
    "TrustRoot",
    "VerifyError",
    "finding_line",
    "is_platform_bundle",
    "load_bundle",
    "load_trust_root",
    "verify_bundle",
    "verify_loaded",
    "verify_platform",
]
