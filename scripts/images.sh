#!/usr/bin/env bash
# Builds the two container images with podman (`make images`; the image
# tests call it too):
#   hotdesk-edge:<version>           Dockerfile, every Python service
#   hotdesk-edge-kamailio:<version>  kamailio/Dockerfile, the SIP edge
# <version> is pyproject.toml's (the manifests' release tag).
#
# The base images the Dockerfiles name are pulled when a registry is
# reachable; otherwise they are made here: Debian bookworm with mmdebstrap
# from the machine's own Debian mirrors (trusting the machine's extra CA
# certificates), and a python:3.11-slim-bookworm stand-in on it
# (scripts/images/python-stand-in.Dockerfile). Once present they are reused;
# podman's layer cache makes a second build of unchanged sources cost
# seconds. `podman rmi` (or `podman system reset`) starts over.
#
# podman runs with scripts/images/containers.conf (CONTAINERS_CONF); run as
# root (podman's storage is the machine's).
set -euo pipefail
cd "$(dirname "$0")/.."

export CONTAINERS_CONF="$PWD/scripts/images/containers.conf"
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
DEBIAN=debian:bookworm-slim
PYTHON=python:3.11-slim-bookworm
WORK=.cache/images

log() { echo "images: $*" >&2; }

# The machine's Debian archive URI ending in $1 ("/debian/", ...), or $2.
host_mirror() {
    local found
    found=$(apt-get indextargets --format '$(REPO_URI)' 2>/dev/null | grep -m 1 -- "$1\$" || true)
    echo "${found:-$2}"
}

# debian:bookworm-slim from the machine's mirrors: minbase without
# documentation, its sources in the official image's format, the machine's
# extra CA certificates where ca-certificates (when a build installs it)
# picks them up.
make_debian() {
    local main security
    main=$(host_mirror /debian/ http://deb.debian.org/debian/)
    security=$(host_mirror /debian-security/ http://deb.debian.org/debian-security/)
    mkdir -p "$WORK"
    cat >"$WORK/debian.sources" <<EOF
Types: deb
URIs: ${main%/}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${security%/}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    log "making $DEBIAN with mmdebstrap from ${main%/}"
    mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --customize-hook="rm -f \"\$1\"/etc/apt/sources.list \"\$1\"/etc/apt/sources.list.d/*; cp $WORK/debian.sources \"\$1/etc/apt/sources.list.d/debian.sources\"" \
        --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"; for c in /usr/local/share/ca-certificates/*.crt; do [ ! -f "$c" ] || cp "$c" "$1/usr/local/share/ca-certificates/"; done' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
        bookworm "$WORK/debian.tar" "$WORK/debian.sources"
    podman import --quiet --change 'CMD ["bash"]' "$WORK/debian.tar" "$DEBIAN" >/dev/null
    rm -f "$WORK/debian.tar"
}

# podman build of $1 from $2 in context $3 with only local images; its
# output in .cache/images/<name>.log, the end of it shown on failure.
build() {
    local tag=$1 dockerfile=$2 context=$3 started=$SECONDS
    local output
    output="$WORK/$(basename "${tag%%:*}").log"
    mkdir -p "$WORK"
    if ! podman build --pull=never --layers -t "$tag" -f "$dockerfile" "$context" >"$output" 2>&1; then
        tail -n 40 "$output" >&2
        log "building $tag failed (all of it in $output)"
        exit 1
    fi
    log "$tag built ($((SECONDS - started)) s)"
}

make_python() {
    log "making a stand-in for $PYTHON"
    build "$PYTHON" scripts/images/python-stand-in.Dockerfile scripts/images
}

# $1 is there already, or pulled, or made by $2.
ensure_base() {
    podman image exists "$1" && return
    if podman pull --quiet "$1" >/dev/null 2>&1; then
        log "pulled $1"
        return
    fi
    "$2"
}

ensure_base "$DEBIAN" make_debian
ensure_base "$PYTHON" make_python
build "hotdesk-edge:$VERSION" Dockerfile .
build "hotdesk-edge-kamailio:$VERSION" kamailio/Dockerfile .
