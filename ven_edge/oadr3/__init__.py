"""OpenADR 3 wire formats: models (3.1.0 and 3.0.1) and time values."""
