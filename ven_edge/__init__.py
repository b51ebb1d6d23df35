"""ven-edge: an OpenADR 3 demand-response gateway for CTA-2045 heat-pump water heaters."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ven-edge")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.1.0"

__all__ = ["__version__"]
