"""Property: whatever is done to an encrypted message, decrypt answers quickly with a
result or an InputError — never another exception."""

from __future__ import annotations

import contextlib
import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postseal.errors import InputError
from postseal.smime.decrypt import decrypt, decrypt_cms
from postseal.smime.encrypt import Recipient, encrypt, encrypt_entity
from tests.smime.envelope_fixtures import SAMPLE_MESSAGE, party

NAMES = ("bob", "carol", "erin")


@functools.cache
def _message(name: str, cipher: str) -> bytes:
    who = party(name)
    recipients = [Recipient(who.address, who.cert)]
    return encrypt(SAMPLE_MESSAGE, recipients=recipients, cipher=cipher).message


@functools.cache
def _der(name: str, cipher: str) -> bytes:
    who = party(name)
    der, _ = encrypt_entity(b"x" * 40, recipients=[Recipient(who.address, who.cert)], cipher=cipher)
    return der


_Mutations = list[tuple[str, int, bytes]]
_mutation = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "insert", "delete"]),
        st.integers(0, 10**6),
        st.binary(min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=4,
)


def _mutate(data: bytes, mutations: _Mutations) -> bytes:
    out = bytearray(data)
    for kind, position, blob in mutations:
        i = position % max(len(out), 1)
        if kind == "flip" and out:
            out[i] ^= blob[0] or 1
        elif kind == "cut":
            del out[i:]
        elif kind == "insert":
            out[i:i] = blob
        else:
            del out[i : i + len(blob)]
    return bytes(out)


_settings = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(st.sampled_from(NAMES), st.sampled_from(["aes256-cbc", "aes128-gcm"]), _mutation)
def test_mutated_der_gives_a_result_or_input_error(name: str, cipher: str, m: _Mutations) -> None:
    who = party(name)
    with contextlib.suppress(InputError):
        decrypt_cms(_mutate(_der(name, cipher), m), key=who.decryption_key, certificate=who.cert)


@_settings
@given(st.sampled_from(NAMES), st.sampled_from(["aes256-cbc", "aes256-gcm"]), _mutation)
def test_mutated_mime_gives_a_result_or_input_error(name: str, cipher: str, m: _Mutations) -> None:
    who = party(name)
    with contextlib.suppress(InputError):
        decrypt(_mutate(_message(name, cipher), m), key=who.decryption_key, certificate=who.cert)


@_settings
@given(st.binary(max_size=600))
def test_arbitrary_bytes(data: bytes) -> None:
    bob = party("bob")
    for attempt in (decrypt, decrypt_cms):
        with contextlib.suppress(InputError):
            attempt(data, key=bob.decryption_key, certificate=bob.cert)
