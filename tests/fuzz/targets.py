"""Loading the fuzz targets of ``fuzz/`` (a plain folder, not a package) for the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"
TARGETS = (
    "cms_signed",
    "cms_enveloped",
    "smime_mime",
    "mime_structure",
    "imap_grammar",
    "smtp_grammar",
    "pop3_grammar",
    "address",
    "trust",
    "octets",
)


def _load(name: str, module_name: str) -> ModuleType:
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, FUZZ_DIR / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def harness() -> ModuleType:
    """``fuzz/_harness.py``, registered as ``_harness`` (the name the targets import)."""
    return _load("_harness", "_harness")


def target(name: str) -> ModuleType:
    """The target module ``fuzz/<name>.py``, imported as ``postseal_fuzz_<name>``."""
    harness()
    return _load(name, f"postseal_fuzz_{name}")
