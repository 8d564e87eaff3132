#!/usr/bin/env bash
# Build the Kamailio modules the edge loads from its own directory, from
# Debian's own kamailio source package, matching the installed version:
#   http_async_client  Debian does not package it;
#   ndb_redis          with kamailio/patches/ndb_redis-timeout-before-auth.patch
#                      (a Redis that accepts connections but does not answer
#                      must not block Kamailio's workers).
# Output: .cache/kamailio/modules/*.so (rebuilt only when the installed
# kamailio version or a patch changes).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=.cache/kamailio
MODULES=(http_async_client ndb_redis)
version=$(dpkg-query -W -f='${Version}' kamailio)
stamp="$version $(cat kamailio/patches/*.patch | sha256sum | cut -c1-16)"
built=1
for m in "${MODULES[@]}"; do
    [[ -f $CACHE/modules/$m.so ]] || built=0
done
if ((built)) && [[ -f $CACHE/version && $(cat $CACHE/version) == "$stamp" ]]; then
    exit 0
fi

# apt-get source needs deb-src entries; derive them from the machine's own
# deb entries (deb822 .sources files or the classic sources.list).
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "bootstrap: adding deb-src entries (for kamailio's source package)"
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
            > /etc/apt/sources.list.d/hotdesk-deb-src.sources
    else
        grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
            > /etc/apt/sources.list.d/hotdesk-deb-src.list
    fi
    apt-get update -qq
fi

echo "bootstrap: building ${MODULES[*]} for kamailio $version"
rm -rf "$CACHE/src" && mkdir -p "$CACHE/src" "$CACHE/modules"
(cd "$CACHE/src" && apt-get source -qq "kamailio=$version" >/dev/null)
src=$(find "$CACHE/src" -maxdepth 1 -mindepth 1 -type d -name 'kamailio-*' | head -1)
for p in kamailio/patches/*.patch; do
    patch -s -p1 -d "$src" < "$p"
done
make -s -C "$src" cfg include_modules="${MODULES[*]}" >/dev/null
for m in "${MODULES[@]}"; do
    make -s -C "$src/src/modules/$m" >/dev/null
    cp "$src/src/modules/$m/$m.so" "$CACHE/modules/$m.so"
done
echo "$stamp" > "$CACHE/version"
rm -rf "$CACHE/src"
