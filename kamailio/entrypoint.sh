#!/bin/sh
# The SIP edge container's entrypoint: renders kamailio-local.cfg, then runs
# Kamailio in the foreground as whoever started it (the image's non-root
# user; the root filesystem may be read-only).
#
# The local configuration comes from a template (in Kubernetes the
# kamailio-local ConfigMap) in which @REDIS_PASSWORD@ stands for the Redis
# password: ndb_redis takes it only inside HD_REDIS (pass=...), and a
# ConfigMap must not hold it. The password is read from a file (the mounted
# Secret) and never passes through a command line. Without a template, a
# kamailio-local.cfg already in EDGE_LOCAL_DIR is used as it is.
#
# Overridable (defaults are the image's and the manifests' paths):
#   EDGE_LOCAL_TEMPLATE       the template
#   EDGE_REDIS_PASSWORD_FILE  the Redis password (one line)
#   EDGE_LOCAL_DIR            where kamailio-local.cfg is written (writable;
#                             Kamailio's working directory)
#   EDGE_RUN_DIR              Kamailio's runtime directory (writable)
#   EDGE_CONFIG               kamailio.cfg
#   EDGE_KAMAILIO             the binary
# Arguments are passed on to Kamailio.
set -eu

template=${EDGE_LOCAL_TEMPLATE:-/etc/kamailio/template/kamailio-local.cfg}
password_file=${EDGE_REDIS_PASSWORD_FILE:-/etc/hotdesk/redis/password}
local_dir=${EDGE_LOCAL_DIR:-/etc/kamailio/local}
run_dir=${EDGE_RUN_DIR:-/run/kamailio}
config=${EDGE_CONFIG:-/etc/kamailio/hotdesk/kamailio.cfg}
kamailio=${EDGE_KAMAILIO:-kamailio}
local_cfg=$local_dir/kamailio-local.cfg

fail() {
    echo "entrypoint: $*" >&2
    exit 1
}

if [ -f "$template" ]; then
    # Readable by this user only: it may hold the password.
    umask 077
    if grep -q '@REDIS_PASSWORD@' "$template"; then
        [ -r "$password_file" ] || fail "the template wants a Redis password; $password_file is not readable"
        password=$(cat "$password_file")
        # The value ends up inside a #!substdef "!...!g" and an ndb_redis
        # "name=...;pass=..." list: only characters that are literal in both
        # (e.g. openssl rand -hex 32).
        case $password in
        '' | *[!A-Za-z0-9._~-]*)
            fail "the Redis password in $password_file must be non-empty and only [A-Za-z0-9._~-]"
            ;;
        esac
        # awk reads the password from the file: not on any command line.
        awk 'NR == FNR { if (FNR == 1) password = $0; next }
             { gsub(/@REDIS_PASSWORD@/, password); print }' \
            "$password_file" "$template" >"$local_cfg.new"
    else
        cp "$template" "$local_cfg.new"
    fi
    mv "$local_cfg.new" "$local_cfg"
    umask 022
elif [ ! -f "$local_cfg" ]; then
    fail "neither $template nor $local_cfg exists"
fi

# The peers' address list (HD_PEERS_FILE) must exist when Kamailio starts;
# Kamailio fills it from Redis within a second.
peers=$(sed -n 's/^#!substdef "!HD_PEERS_FILE!\(.*\)!g"$/\1/p' "$local_cfg")
if [ -n "$peers" ]; then
    mkdir -p "$(dirname "$peers")"
    [ -f "$peers" ] || : >"$peers"
fi
mkdir -p "$run_dir"

# Files Kamailio reads once its workers run: checked here, because a
# Kamailio 5.6 with TLS that stops that late can hang in the tls module's
# teardown instead of exiting (the pod would never restart).
for name in HD_MENU_KEY_FILE HD_TLS_CONFIG HD_TLS_CERT_FILE; do
    file=$(sed -n "s/^#!substdef \"!$name!\(.*\)!g\"$/\1/p" "$local_cfg")
    if [ -n "$file" ] && [ ! -r "$file" ]; then
        fail "$name: $file is not readable"
    fi
done

# kamailio.cfg imports kamailio-local.cfg from the working directory.
cd "$local_dir"
exec "$kamailio" -DD -E -f "$config" -Y "$run_dir" -m 256 -M 16 "$@"
