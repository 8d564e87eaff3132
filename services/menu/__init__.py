"""The voice menu: a SIP user agent server that Kamailio relays feature-code
calls to. It plays prompts, reads DTMF, checks PINs with the auth service
and logs users in and out at the calling desk phone through the binding
service (both over gRPC); it reads the directory (devices, tenants) and
writes nothing."""
