"""The TLS context of a service's own HTTPS listener (the provision
service's phone files, the admin API): its certificate chain and key, PEM."""

import ssl


def server_tls(cert_file: str, key_file: str) -> ssl.SSLContext | None:
    """HTTPS with this certificate (and key, if not in the same file); None
    without a certificate: plain HTTP."""
    if not cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file or None)
    return context
