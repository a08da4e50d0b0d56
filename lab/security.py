"""Bearer tokens as the API and the lab's clients share them, and the facts of the API's
security testing that reports quote.

A token is stored only as its SHA-256: the API looks callers up by the hash,
and the lab's credential issuers (load runs, benchmarks) insert hashes too.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32

# Inputs the test suite's fuzzer (tests/api/test_fuzz.py) generates per operation of the
# API's OpenAPI schema; the run report quotes it as the bad inputs the API was tried with.
FUZZ_EXAMPLES_PER_OPERATION = 50


def token_hash(token: str) -> bytes:
    """Return what is stored for a token: its SHA-256 (the token itself never is)."""
    return hashlib.sha256(token.encode()).digest()


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    """A fresh URL-safe bearer token."""
    return secrets.token_urlsafe(nbytes)
