"""Ed25519 signing through the OpenSSL that Python's own ``ssl`` module links, by ctypes.

Why not ``cryptography`` on the agent's run path: importing its Ed25519 key and its PEM loader
adds about 8.5 MB of resident memory (bench/agent_footprint.py, docs/performance.md), a quarter
of a Modbus-only agent's 35 MB goal on a gateway, while the agent has OpenSSL's libcrypto mapped
already: asyncio and paho import ``ssl``, and CPython 3.10+ requires OpenSSL 1.1.1 or later,
which signs Ed25519 through ``EVP_DigestSign``. Looking its functions up costs about 0.3 MB.

Ed25519 is deterministic (RFC 8032 §5.1.6): one key signs one message one way only, so these
signatures are byte for byte those of ``cryptography`` (a property test holds them equal and
verifies them with ``cryptography``). Only signing lives here; generating keys, verifying and
the collector keep ``cryptography``. When the library or a function cannot be found, or the
key file is not the plain PKCS#8 form ``retrofit-agent keygen`` writes, :func:`openssl_key`
returns None and the caller loads the key with ``cryptography`` as before.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
from functools import cache
from typing import Protocol

__all__ = ["OpenSslEd25519Key", "Signer", "openssl_key", "pkcs8_seed"]


class Signer(Protocol):
    """What sealing a message needs of a private key: ``cryptography``'s Ed25519PrivateKey, or
    :class:`OpenSslEd25519Key`."""

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        ...


_EVP_PKEY_ED25519 = 1087  # NID_ED25519, openssl/obj_mac.h
_SIGNATURE_BYTES = 64
_KEY_BYTES = 32
#: DER of an RFC 8410 §7 OneAsymmetricKey v1 for Ed25519, up to its 32-byte seed: what
#: ``cryptography`` writes as unencrypted PKCS#8 (``retrofit-agent keygen``).
_PKCS8_ED25519_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN = b"-----BEGIN PRIVATE KEY-----"
_PEM_END = b"-----END PRIVATE KEY-----"

_P = ctypes.c_void_p
_SIZE_P = ctypes.POINTER(ctypes.c_size_t)
#: name: (restype, argtypes), as openssl/evp.h declares them.
_FUNCTIONS: dict[str, tuple[type | None, list[type]]] = {
    "EVP_PKEY_new_raw_private_key": (_P, [ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_size_t]),
    "EVP_PKEY_get_raw_public_key": (ctypes.c_int, [_P, ctypes.c_char_p, _SIZE_P]),
    "EVP_PKEY_free": (None, [_P]),
    "EVP_MD_CTX_new": (_P, []),
    "EVP_MD_CTX_free": (None, [_P]),
    "EVP_DigestSignInit": (ctypes.c_int, [_P, _P, _P, _P, _P]),
    "EVP_DigestSign": (
        ctypes.c_int,
        [_P, ctypes.c_char_p, _SIZE_P, ctypes.c_char_p, ctypes.c_size_t],
    ),
}


@cache
def _libcrypto() -> ctypes.CDLL | None:
    """The libcrypto ``ssl`` loaded, with the functions above typed; None if unavailable."""
    try:
        import _ssl  # its libcrypto is what a dlopen of the module makes visible

        library = ctypes.CDLL(_ssl.__file__)
        for name, (restype, argtypes) in _FUNCTIONS.items():
            function = getattr(library, name)
            function.restype = restype
            function.argtypes = argtypes
    except (ImportError, OSError, AttributeError):
        return None
    return library


class OpenSslEd25519Key:
    """An Ed25519 private key held by libcrypto; ``sign`` as ``Ed25519PrivateKey.sign``."""

    __slots__ = ("_library", "_pkey")

    def __init__(self, library: ctypes.CDLL, seed: bytes) -> None:
        if len(seed) != _KEY_BYTES:
            raise ValueError(f"an Ed25519 private key has {_KEY_BYTES} bytes, got {len(seed)}")
        self._library = library
        self._pkey = library.EVP_PKEY_new_raw_private_key(_EVP_PKEY_ED25519, None, seed, len(seed))
        if not self._pkey:
            raise ValueError("libcrypto refused the Ed25519 private key")

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``; raises RuntimeError if libcrypto fails."""
        library = self._library
        context = library.EVP_MD_CTX_new()
        if not context:
            raise RuntimeError("libcrypto could not allocate a signing context")
        try:
            # Ed25519 signs in one shot: EVP_DigestSignInit with no digest, then EVP_DigestSign.
            if library.EVP_DigestSignInit(context, None, None, None, self._pkey) != 1:
                raise RuntimeError("libcrypto could not start an Ed25519 signature")
            signature = ctypes.create_string_buffer(_SIGNATURE_BYTES)
            length = ctypes.c_size_t(_SIGNATURE_BYTES)
            message = bytes(data)
            done = library.EVP_DigestSign(
                context, signature, ctypes.byref(length), message, len(message)
            )
            if done != 1 or length.value != _SIGNATURE_BYTES:
                raise RuntimeError("libcrypto could not make an Ed25519 signature")
            return signature.raw
        finally:
            library.EVP_MD_CTX_free(context)

    def public_bytes_raw(self) -> bytes:
        """The 32 raw bytes of the public key."""
        public = ctypes.create_string_buffer(_KEY_BYTES)
        length = ctypes.c_size_t(_KEY_BYTES)
        if self._library.EVP_PKEY_get_raw_public_key(self._pkey, public, ctypes.byref(length)) != 1:
            raise RuntimeError("libcrypto could not give the Ed25519 public key")
        return public.raw[: length.value]

    def __del__(self) -> None:
        pkey = getattr(self, "_pkey", None)
        if pkey:
            self._library.EVP_PKEY_free(pkey)
            self._pkey = None


def pkcs8_seed(pem: bytes) -> bytes | None:
    """The 32-byte seed of an unencrypted PKCS#8 Ed25519 PEM key, or None for any other form."""
    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0].strip() != _PEM_BEGIN or lines[-1].strip() != _PEM_END:
        return None
    try:
        der = base64.b64decode(b"".join(line.strip() for line in lines[1:-1]), validate=True)
    except binascii.Error:
        return None
    if len(der) != len(_PKCS8_ED25519_PREFIX) + _KEY_BYTES or not der.startswith(
        _PKCS8_ED25519_PREFIX
    ):
        return None
    return der[len(_PKCS8_ED25519_PREFIX) :]


def openssl_key(pem: bytes) -> OpenSslEd25519Key | None:
    """The key of a PEM file through libcrypto, or None: the caller then uses ``cryptography``."""
    seed = pkcs8_seed(pem)
    library = _libcrypto()
    if seed is None or library is None:
        return None
    return OpenSslEd25519Key(library, seed)
