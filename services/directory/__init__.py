"""The directory file (tenants, users, devices): validation and import."""
