"""Provision service: phone configuration files and resync (not built yet)."""
