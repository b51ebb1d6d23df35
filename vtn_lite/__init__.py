"""vtn_lite: a small OpenADR 3 VTN (3.1.0 and 3.0.1) on SQLite, for labs and small utilities."""

__version__ = "0.1.0"
