"""``retrofit-collector attachments``: add, list, get; the bad inputs each refused with a clear
message (HTML claiming PDF, an executable, a path in the name, a file over the limit), the same
bytes twice stored once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from collector.cli import app
from collector.plan import load_plan
from collector.registry import Registry
from tests.collector.attachments.samples import HTML_AS_PDF, WINDOWS_EXE, pdf_bytes
from tests.collector.config_helpers import write_collector_config

VALID = Path(__file__).parent / "plan_cases" / "valid_minimal" / "plan.yaml"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    registry = tmp_path / "registry.sqlite"
    with Registry(registry) as opened:
        opened.load_plan(load_plan(VALID), by="alice")
    path = write_collector_config(tmp_path, registry)
    settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    settings["attachments"] = {"max_bytes": 4096}
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def _run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["attachments", *args, "--config", str(config)])


def _add(config: Path, file: Path, *extra: str) -> Result:
    return _run(config, "add", "plat-a-e01", str(file), "--by", "eng-a", *extra)


def test_a_document_is_added_listed_and_got_back(config: Path, tmp_path: Path) -> None:
    invoice = tmp_path / "发票.pdf"
    invoice.write_bytes(pdf_bytes("invoice"))
    added = _add(config, invoice, "--kind", "invoice", "--amount", "123456.78")
    assert added.exit_code == 0, added.output
    sha256 = hashlib.sha256(invoice.read_bytes()).hexdigest()
    assert f"attached to plat-a/plat-a-e01: {sha256}  invoice  发票.pdf" in added.output
    listed = _run(config, "list", "plat-a-e01")
    assert listed.exit_code == 0, listed.output
    assert "1 document" in listed.output
    assert "invoiced total: 123456.78 CNY; plan's retrofit cost: 500000.00 CNY" in listed.output
    out = tmp_path / "back.pdf"
    got = _run(config, "get", "plat-a-e01", sha256, "--out", str(out), "--by", "auditor-1")
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == invoice.read_bytes()
    with Registry(config.parent / "registry.sqlite") as store:
        entry = store.audit(subject="plat-a/plat-a-e01")[-1]
    assert (entry.action, entry.actor) == ("attachment.download", "auditor-1")
    assert json.loads(entry.detail)["source"].startswith("cli ")
    missing = _run(config, "get", "plat-a-e01", "0" * 64, "--out", str(out))
    assert missing.exit_code == 1 and "has no document" in missing.output


def test_the_same_bytes_twice_are_stored_once(config: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    first.write_bytes(pdf_bytes())
    second.write_bytes(pdf_bytes())
    assert _add(config, first, "--kind", "contract").exit_code == 0
    again = _add(config, second, "--kind", "contract")
    assert again.exit_code == 0, again.output
    assert "already in the file of plat-a/plat-a-e01, nothing stored" in again.output
    assert "a.pdf" in again.output  # the first record's name is kept
    assert "1 document" in _run(config, "list", "plat-a-e01").output


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (HTML_AS_PDF, (), "not a PDF, PNG or JPEG (by its first bytes it is HTML or XML)"),
        (WINDOWS_EXE, (), "a Windows executable"),
        (pdf_bytes(), ("--name", "../../etc/cron.d/x.pdf"), "holds a path"),
        (pdf_bytes(), ("--name", "a\x1b[31m.pdf"), "control or formatting characters"),
        (pdf_bytes() + b" " * 5000, (), "more than the limit of 4,096"),
        (pdf_bytes(), ("--amount", "1,000.00"), "only an invoice carries an amount"),
        (pdf_bytes(), ("--kind", "receipt"), "expected one of contract"),
    ],
)
def test_bad_documents_are_refused_with_exit_1(
    config: Path, tmp_path: Path, content: bytes, extra: tuple[str, ...], message: str
) -> None:
    file = tmp_path / "invoice.pdf"
    file.write_bytes(content)
    kind = () if "--kind" in extra else ("--kind", "contract")
    result = _add(config, file, *kind, *extra)
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert "0 documents" in _run(config, "list", "plat-a-e01").output


def test_an_invoice_amount_with_a_unit_is_refused(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "invoice.pdf"
    file.write_bytes(pdf_bytes())
    result = _add(config, file, "--kind", "invoice", "--amount", "12.5万元")
    assert result.exit_code == 1
    assert "no 万元" in " ".join(result.output.split())


def test_a_missing_file_or_unknown_enterprise_is_said_plainly(config: Path, tmp_path: Path) -> None:
    missing = _add(config, tmp_path / "nope.pdf", "--kind", "contract")
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    file = tmp_path / "c.pdf"
    file.write_bytes(pdf_bytes())
    ghost = _run(config, "add", "ghost", str(file), "--kind", "contract", "--by", "a")
    assert ghost.exit_code == 1 and "no loaded plan lists enterprise ghost" in ghost.output


def test_a_mistyped_invoice_is_withdrawn_and_attached_again(config: Path, tmp_path: Path) -> None:
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(pdf_bytes("invoice"))
    assert _add(config, invoice, "--kind", "invoice", "--amount", "1000").exit_code == 0
    sha256 = hashlib.sha256(invoice.read_bytes()).hexdigest()
    withdrawn = _run(
        config, "withdraw", "plat-a-e01", sha256, "--reason", "amount mistyped", "--by", "eng-a"
    )
    assert withdrawn.exit_code == 0, withdrawn.output
    assert "WITHDRAWN by eng-a" in withdrawn.output and "amount mistyped" in withdrawn.output
    assert _add(config, invoice, "--kind", "invoice", "--amount", "100000").exit_code == 0
    listed = " ".join(_run(config, "list", "plat-a-e01").output.split())
    assert "2 documents" in listed and "invoiced total: 100000.00 CNY" in listed
    again = _run(config, "withdraw", "plat-a-e01", "0" * 64, "--reason", "x", "--by", "eng-a")
    assert again.exit_code == 1 and "no document" in again.output
