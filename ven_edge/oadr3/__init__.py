"""OpenADR 3 (3.1.0 and 3.0.1) for the VEN: wire parsing, client, push receiver, reports."""
