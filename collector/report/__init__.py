"""Evidence reports: the bundle's documents as HTML and PDF, in Simplified Chinese and English.

Reads only the evidence documents (collector/evidence/document.py); computes no evidence.
``enterprise_files``, ``platform_files`` and ``province_files`` give a bundle's report files;
the web app reuses :mod:`collector.report.charts`, :mod:`collector.report.i18n` and
:mod:`collector.report.formatting`. Needs jinja2 and weasyprint (the ``collector`` extra) and,
for Chinese in the PDF, Debian's ``fonts-noto-cjk``. docs/report.md describes the files.
"""

from collector.report.files import enterprise_files, platform_files, province_files, report_name
from collector.report.lang import LANGS, Lang

__all__ = ["LANGS", "Lang", "enterprise_files", "platform_files", "province_files", "report_name"]
