"""ven-edge: an OpenADR 3 demand-response gateway for CTA-2045 heat-pump water heaters."""

# The single source of the version (pyproject.toml reads it: [tool.hatch.version]). A literal
# rather than importlib.metadata, which would pull zipfile, shutil, csv, bz2 and lzma into the
# daemon (about 1 MB of its RSS budget, docs/gateway.md "Figures") just to read one string.
__version__ = "0.1.0"

__all__ = ["__version__"]
