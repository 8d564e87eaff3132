"""Provision service: desk phones' configuration files per vendor, users'
phone profiles, phone-screen login, and check-sync pushes on every binding
change."""
