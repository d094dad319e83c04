"""Looking at rendered reports as a reader would: Chromium screenshots, PDF pages and text.

Real tools, Debian packages installed by deploy/local/setup.sh: ``chromium`` (headless, flags
from FIELD-NOTES.md) and poppler's ``pdfinfo``, ``pdftoppm``, ``pdftotext``, ``pdffonts``.
Pictures are judged by pixel statistics (a blank or one-colour page fails), not file size.
Artefacts land in ``out/test-artifacts/report/`` (gitignored) so a person can look at them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageStat

ARTIFACTS = Path(__file__).resolve().parents[3] / "out" / "test-artifacts" / "report"


def artifact_dir() -> Path:
    """The folder for this run's pictures, created on demand."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: run deploy/local/setup.sh (Debian package)")
    return path


def screenshot(html_file: Path, png_file: Path, width: int = 1100, height: int = 2400) -> Path:
    """A headless Chromium screenshot of a local HTML file (top ``height`` pixels)."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        subprocess.run(
            [
                _tool("chromium"),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--screenshot={png_file}",
                html_file.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return png_file


@dataclass(frozen=True)
class Ink:
    """How much a picture shows: grey-level standard deviation and share of non-white pixels."""

    stddev: float
    inked: float

    @property
    def blank(self) -> bool:
        """True for an empty or one-colour picture."""
        return self.stddev < 8.0 or self.inked < 0.005


def ink(png_file: Path) -> Ink:
    """Pixel statistics of a PNG."""
    with Image.open(png_file) as image:
        grey = image.convert("L")
        stddev = ImageStat.Stat(grey).stddev[0]
        histogram = grey.histogram()
        inked = 1.0 - sum(histogram[245:]) / (grey.width * grey.height)
    return Ink(stddev, inked)


def pdf_pages(pdf_file: Path) -> int:
    """The page count pdfinfo reports."""
    info = subprocess.run(
        [_tool("pdfinfo"), str(pdf_file)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    line = next(line for line in info.splitlines() if line.startswith("Pages:"))
    return int(line.split()[1])


def pdf_page_images(pdf_file: Path, prefix: Path, dpi: int = 40) -> list[Path]:
    """Every page as a PNG (``prefix-N.png``), in page order; older pages of ``prefix`` go."""
    for stale in prefix.parent.glob(f"{prefix.name}-*.png"):
        stale.unlink()
    subprocess.run(
        [_tool("pdftoppm"), "-r", str(dpi), "-png", str(pdf_file), str(prefix)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return sorted(prefix.parent.glob(f"{prefix.name}-*.png"))


def pdf_text(pdf_file: Path) -> str:
    """The PDF's text layer (pdftotext, UTF-8)."""
    return subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(pdf_file), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def pdf_fonts(pdf_file: Path) -> list[tuple[str, bool]]:
    """(font name, embedded) for each font pdffonts lists."""
    listing = subprocess.run(
        [_tool("pdffonts"), str(pdf_file)], check=True, capture_output=True, text=True, timeout=60
    ).stdout.splitlines()[2:]
    fonts = []
    for line in listing:
        fields = line.split()
        # name, type words..., encoding, emb, sub, uni, object, id: emb is 5th from the end.
        fonts.append((fields[0], fields[-5] == "yes"))
    return fonts
