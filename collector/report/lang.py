"""The report languages and a text in each of them.

Every reviewer-facing string exists in Simplified Chinese and in English (DOMAIN.md): a
:class:`Text` holds both, so a missing translation is a type error, not a blank in a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["LANGS", "Lang", "Text"]

Lang = Literal["zh-CN", "en"]
#: Every report exists in these languages, in this order (BCP 47 tags, as in ``<html lang>``).
LANGS: Final[tuple[Lang, ...]] = ("zh-CN", "en")


@dataclass(frozen=True, slots=True)
class Text:
    """One string in Simplified Chinese and in English."""

    zh: str
    en: str

    def get(self, lang: Lang) -> str:
        """The string in ``lang``."""
        return self.zh if lang == "zh-CN" else self.en
