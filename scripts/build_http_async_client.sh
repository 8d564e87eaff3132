#!/usr/bin/env bash
# Build Kamailio's http_async_client module, which Debian does not package,
# from Debian's own kamailio source package, matching the installed version.
# Output: .cache/kamailio/modules/http_async_client.so (rebuilt only when the
# installed kamailio version changes).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=.cache/kamailio
OUT=$CACHE/modules/http_async_client.so
version=$(dpkg-query -W -f='${Version}' kamailio)
if [[ -f $OUT && -f $CACHE/version && $(cat $CACHE/version) == "$version" ]]; then
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

echo "bootstrap: building http_async_client for kamailio $version"
rm -rf "$CACHE/src" && mkdir -p "$CACHE/src" "$CACHE/modules"
(cd "$CACHE/src" && apt-get source -qq "kamailio=$version" >/dev/null)
src=$(find "$CACHE/src" -maxdepth 1 -mindepth 1 -type d -name 'kamailio-*' | head -1)
make -s -C "$src" cfg include_modules=http_async_client >/dev/null
make -s -C "$src/src/modules/http_async_client" >/dev/null
cp "$src/src/modules/http_async_client/http_async_client.so" "$OUT"
echo "$version" > "$CACHE/version"
rm -rf "$CACHE/src"
