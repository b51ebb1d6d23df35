"""Hardware-in-the-loop tools: a simulated CTA-2045 water heater on a pty, and its physics."""
