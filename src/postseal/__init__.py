"""postseal: a self-hosted confidential mail system built around S/MIME."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("postseal")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
