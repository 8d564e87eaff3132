# A stand-in for python:3.11-slim-bookworm where no registry is reachable:
# Debian bookworm's own Python 3.11 on the local Debian base
# (scripts/images.sh). Python is /usr/bin/python; pip installs into
# /usr/local/lib/python3.11/dist-packages.
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 python3-pip python3-venv \
        python-is-python3 ca-certificates >/dev/null \
 && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED \
 && rm -rf /var/lib/apt/lists/*
# pip checks HTTPS against the system's bundle (with the CAs the base trusts).
ENV LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
