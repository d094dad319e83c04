"""The wire's errors: each names the rule broken (``code``) and where (``field``).

The tree is drawn in the package docstring (:mod:`contract.wire`). :class:`FieldRule` never
leaves the package: a model validator raises it, decoding turns it into InvalidMessage.
"""

from __future__ import annotations


class WireError(ValueError):
    """A message that breaks the wire contract; ``code`` says which rule, ``field`` where."""

    code = "wire"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        self.detail = detail
        self.field = field
        super().__init__(f"{field}: {detail}" if field else detail)


class TooLarge(WireError):
    code = "too_large"


class NotJson(WireError):
    code = "not_json"


class UnsupportedVersion(WireError):
    code = "unsupported_version"


class InvalidMessage(WireError):
    code = "invalid"


class NotCanonical(WireError):
    code = "not_canonical"


class BadSignature(WireError):
    code = "bad_signature"


class BadTopic(WireError):
    code = "bad_topic"


class FieldRule(ValueError):
    """A cross-field rule broken inside a model; ``field`` names the field to blame."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        super().__init__(detail)
