"""journey-atc: journey_atc."""
