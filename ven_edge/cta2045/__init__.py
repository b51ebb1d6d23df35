"""CTA-2045 (ANSI/CTA-2045-B) UCM stack: frames, messages, link engine and UCM session."""
