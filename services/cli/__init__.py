"""The ``hotdesk`` operator command line."""
