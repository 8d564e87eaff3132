"""The voice menu: a SIP user agent server inside the auth service that
Kamailio relays feature-code calls to. It plays prompts, reads DTMF and logs
users in and out at the calling desk phone."""
