"""Vendor emulations mounted by the sandbox app."""
