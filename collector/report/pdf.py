"""HTML to PDF with WeasyPrint: A4, Noto Sans CJK SC embedded, tagged, deterministic bytes.

WeasyPrint (Pango, HarfBuzz) lays the report's HTML out on A4 with the print stylesheet and
embeds a subset of Debian's Noto Sans CJK SC (``fonts-noto-cjk``), so Chinese renders on any
reader. The PDF is tagged (PDF/UA-1: structure, language, title) for screen readers.

Deterministic: WeasyPrint writes no creation date unless the HTML asks for one
(``dcterms.created``, which ours does not), no file identifier unless given one, and names
font subsets by an MD5 of the font description, so the same HTML, fonts and WeasyPrint
version give the same bytes (tests/collector/report/test_pdf.py checks it across processes).

Nothing is fetched: every resource is inline, and the fetcher refuses any URL, so hostile
text can never make the renderer read a file or the network.
"""

from __future__ import annotations

import functools
from typing import Any, Final, NoReturn

__all__ = ["PDF_VARIANT", "html_to_pdf"]

#: Tagged PDF for accessibility (ISO 14289-1).
PDF_VARIANT: Final = "pdf/ua-1"


@functools.cache
def _no_fetch_class() -> Any:
    # Imported on first use: weasyprint loads Pango through cffi at import, which the web app
    # and the HTML-only callers of this package should not pay for.
    from weasyprint.urls import URLFetcher

    class NoFetch(URLFetcher):  # type: ignore[misc]  # weasyprint ships no type hints
        """A fetcher that refuses every URL and stops the rendering (fail_on_errors)."""

        def __init__(self) -> None:
            super().__init__(fail_on_errors=True)

        def fetch(self, url: str, headers: Any = None) -> NoReturn:
            raise PermissionError(f"the report refers to {url!r}: reports embed every resource")

    return NoFetch


def html_to_pdf(html: str) -> bytes:
    """The PDF of a report's HTML.

    weasyprint.urls.FatalURLFetchingError when the HTML refers to any outside resource.
    """
    import weasyprint

    fetcher = _no_fetch_class()()
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, media_type="print")
    pdf = document.write_pdf(pdf_variant=PDF_VARIANT)
    if not isinstance(pdf, bytes):
        raise TypeError(f"weasyprint returned {type(pdf).__name__}, expected bytes")
    return pdf
