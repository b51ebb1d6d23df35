"""OpenADR 3 (3.1.0 and 3.0.1): wire formats and time values, the VEN client, push and reports."""
