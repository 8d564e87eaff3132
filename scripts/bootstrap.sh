#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian bookworm machine (run as root) or an
# already prepared one: installs the Debian packages the stack needs, creates
# the Python virtualenv from pyproject.toml and generates the protobuf stubs.
# Every step is skipped when its result is already there and up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
    redis-server python3 python3-venv wrk
    # The SIP edge, its modules, and SIP test peers
    kamailio kamailio-redis-modules kamailio-extra-modules kamailio-presence-modules
    kamailio-json-modules sip-tester
    # crypto.so: the edge signs X-Hotdesk-Device for the voice menu
    kamailio-tls-modules
    # Voice-menu prompts (speech synthesis and G.711 conversion), and the
    # media relay Kamailio puts between phones and the menu (userspace)
    espeak-ng sox rtpengine-daemon
    # Building http_async_client and a patched ndb_redis from Debian's
    # kamailio source (scripts/build_kamailio_modules.sh)
    dpkg-dev build-essential bison flex pkg-config libcurl4-openssl-dev libevent-dev
    libhiredis-dev libssl-dev patch
    # Building and running the container images (scripts/images.sh): podman
    # with runc (scripts/images/containers.conf), and mmdebstrap for a Debian
    # base image where no registry is reachable
    podman buildah runc conmon catatonit fuse-overlayfs slirp4netns uidmap
    containernetworking-plugins iptables mmdebstrap
    # Prometheus: promtool for the alert rules' tests, and a local server for
    # `make run` and the dashboards' live test (the package's recommends,
    # node exporter and ~380 MB, stay out)
    prometheus
    # The operator console's browser tests: headless Chromium and its driver
    chromium chromium-driver
)
# `kubectl kustomize` for the manifests' tests: Debian's kubernetes-client,
# unless a kubectl is already installed (its package would own
# /usr/bin/kubectl too, and the two conflict).
command -v kubectl >/dev/null || DEBIAN_PACKAGES+=(kubernetes-client)
VENV=.venv

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian redis-server and kamailio units are not used: the stack and the
# tests start their own processes with their own data and configuration.
scripts/build_kamailio_modules.sh

# Voice-menu prompts: made from their texts, again when a text changes.
if [[ ! -f .cache/prompts/.stamp ]] || [[ -n $(find services/menu/prompt_texts scripts/make_prompts.sh -newer .cache/prompts/.stamp) ]]; then
    echo "bootstrap: making voice-menu prompts in .cache/prompts"
    rm -rf .cache/prompts
    scripts/make_prompts.sh .cache/prompts
    touch .cache/prompts/.stamp
fi

# Prefer python3.11 (bookworm's python3); any python3 >= 3.11 works.
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
stamp_want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || ! -f $VENV/.stamp || $(cat $VENV/.stamp) != "$stamp_want" ]]; then
    echo "bootstrap: creating Python environment in $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # pip's warnings about unusable local index paths are noise here.
    "$VENV/bin/pip" install -q --upgrade pip 2> >(grep -v 'is ignored: it is neither' >&2)
    "$VENV/bin/pip" install -q -e '.[dev]' 2> >(grep -v -e 'is ignored: it is neither' -e 'BuildBackendWarning' >&2)
    site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$PWD/gen" > "$site/hotdesk_gen.pth"
    echo "$stamp_want" > $VENV/.stamp
fi

# Protobuf stubs: generated from proto/ by the pinned grpcio-tools.
if [[ ! -f gen/.stamp ]] || [[ -n $(find proto -name '*.proto' -newer gen/.stamp) ]]; then
    echo "bootstrap: generating protobuf stubs into gen/"
    rm -rf gen && mkdir -p gen
    PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/python" -m grpc_tools.protoc -Iproto \
        --python_out=gen --grpc_python_out=gen --mypy_out=gen --mypy_grpc_out=gen \
        $(find proto -name '*.proto' | sort)
    touch gen/.stamp
fi
