"""journey-atc: activation."""
