"""Planning: the problem, the exact scheduler, the builder and the CTA-2045 command timeline."""
