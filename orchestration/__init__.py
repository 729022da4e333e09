"""journey-atc: orchestration."""
