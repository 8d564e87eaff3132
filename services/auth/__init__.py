"""Auth service: PINs (argon2id), lockout/backoff, audit, device SIP credentials."""
