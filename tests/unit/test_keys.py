"""Key custody: subkeys, sealing bound to labels, the master-key check value."""

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from postseal.custody import MasterKey
from postseal.errors import KeyCustodyError
from postseal.pki.keys import generate_key, key_type_of
from postseal.services.custody import create_master_key, load_master_key, verify_master_key


def test_wrapped_key_opens_only_with_same_key_and_label() -> None:
    master = MasterKey(os.urandom(32))
    key = generate_key("ecdsa-p256")
    blob = master.wrap_private_key(key, label="ABCD", nonce=os.urandom(12))
    opened = master.unwrap_private_key(blob, label="ABCD")
    assert isinstance(opened, ec.EllipticCurvePrivateKey)
    assert opened.private_numbers() == key.private_numbers()  # type: ignore[union-attr]
    with pytest.raises(KeyCustodyError, match="cannot open"):
        master.unwrap_private_key(blob, label="ABCE")
    with pytest.raises(KeyCustodyError, match="cannot open"):
        MasterKey(os.urandom(32)).unwrap_private_key(blob, label="ABCD")
    with pytest.raises(KeyCustodyError, match="damaged"):
        master.unwrap_private_key(blob[:10], label="ABCD")


def test_blob_does_not_contain_the_key_in_clear() -> None:
    master = MasterKey(os.urandom(32))
    key = generate_key("rsa-2048")
    blob = master.wrap_private_key(key, label="X", nonce=os.urandom(12))
    from cryptography.hazmat.primitives import serialization

    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert der[40:72] not in blob


def test_repr_hides_the_secret() -> None:
    master = MasterKey(b"k" * 32)
    assert "k" * 8 not in repr(master)
    assert MasterKey.from_text(master.to_text()) == master


@pytest.mark.parametrize("text", ["not base64!", "c2hvcnQ=", ""])
def test_malformed_master_keys(text: str) -> None:
    with pytest.raises(KeyCustodyError):
        MasterKey.from_text(text)


def test_check_value_tells_right_from_wrong() -> None:
    master = MasterKey(os.urandom(32))
    check = master.check_value(os.urandom(12))
    verify_master_key(master, check.hex())
    with pytest.raises(KeyCustodyError, match="does not belong to this store"):
        verify_master_key(MasterKey(os.urandom(32)), check.hex())
    with pytest.raises(KeyCustodyError, match="no master-key check"):
        verify_master_key(master, None)


def test_master_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    key, path = create_master_key(tmp_path, {})
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(tmp_path, {}) == key
    with pytest.raises(KeyCustodyError, match="refusing to overwrite"):
        create_master_key(tmp_path, {})
    path.chmod(0o644)
    with pytest.raises(KeyCustodyError, match="chmod 600"):
        load_master_key(tmp_path, {})


def test_environment_key_wins_and_writes_nothing(tmp_path: Path) -> None:
    env = {"POSTSEAL_MASTER_KEY": MasterKey(os.urandom(32)).to_text()}
    key, path = create_master_key(tmp_path, env)
    assert path is None
    assert not any(tmp_path.iterdir())
    assert load_master_key(tmp_path, env) == key


def test_missing_master_key_names_file_and_variable(tmp_path: Path) -> None:
    with pytest.raises(KeyCustodyError) as caught:
        load_master_key(tmp_path, {})
    assert "master.key" in str(caught.value)
    assert "POSTSEAL_MASTER_KEY" in str(caught.value)


@pytest.mark.parametrize(
    ("key_type", "name"),
    [("rsa-2048", "RSA-2048"), ("ecdsa-p256", "EC-P256"), ("ecdsa-p384", "EC-P384")],
)
def test_key_types(key_type: str, name: str) -> None:
    assert key_type_of(generate_key(key_type).public_key()) == name  # type: ignore[arg-type]
