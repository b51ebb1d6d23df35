"""OpenADR 2.0b VEN: wire format on lxml, a sans-I/O pull engine and its HTTP transport.

Loaded only when the gateway is configured with ``vtn.protocol = "2.0b"`` (docs/openadr2b.md):
nothing in this package is imported in OpenADR 3 mode, so this ``__init__`` imports nothing.
"""
