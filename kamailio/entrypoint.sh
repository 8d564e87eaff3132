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
#   EDGE_SHM_MB               Kamailio's shared memory in MB (1024): a call
#                             holds ~25 KB of it until its transactions have
#                             waited out their timers (~5 s after the BYE)
#
# A cluster node (Kubernetes: overlays/production) also gets, from the pod:
#   EDGE_DMQ_PEERS            every node's DMQ host:port, this node's too,
#                             separated by blanks (e.g. kamailio-0.kamailio-cluster:5090)
#   EDGE_NODE_NAME            this node's name: the entry whose first label
#                             it is is this node's own
#   EDGE_POD_IP               this node's IP
#   EDGE_PEER_WAIT_SECONDS    how long to wait, in all, for peers' names to
#                             resolve (60); then it starts with those that did
# kamailio.cfg's cluster defines take IPs (HD_DMQ_PEER_n is also compared
# with a relaying node's source address), so the names are resolved here,
# once, and written into kamailio-local.cfg with this node's own addresses
# (HD_DMQ_LISTEN, HD_DMQ_ADDRESS, HD_NODE_ADDRESS). A peer that comes back
# with another IP is not followed: see the README ("Kubernetes").
# With EDGE_ADVERTISE_HOST set, the host of HD_ADVERTISE and
# HD_TLS_ADVERTISE (ports kept) is replaced by it: a cluster node's own
# name, where phones and peers reach that node.
# With EDGE_REDIS_CLUSTER set (non-empty), Redis is a Redis Cluster: the
# rendered file starts with #!define HD_CLUSTER_REDIS (the template picks
# its Redis lines by it).
# Arguments are passed on to Kamailio.
set -eu

template=${EDGE_LOCAL_TEMPLATE:-/etc/kamailio/template/kamailio-local.cfg}
password_file=${EDGE_REDIS_PASSWORD_FILE:-/etc/hotdesk/redis/password}
local_dir=${EDGE_LOCAL_DIR:-/etc/kamailio/local}
run_dir=${EDGE_RUN_DIR:-/run/kamailio}
config=${EDGE_CONFIG:-/etc/kamailio/hotdesk/kamailio.cfg}
kamailio=${EDGE_KAMAILIO:-kamailio}
shm_mb=${EDGE_SHM_MB:-1024}
case $shm_mb in
'' | *[!0-9]*) echo "entrypoint: EDGE_SHM_MB must be a number of MB, not '$shm_mb'" >&2; exit 1 ;;
esac
local_cfg=$local_dir/kamailio-local.cfg

fail() {
    echo "entrypoint: $*" >&2
    exit 1
}

# The cluster's #!substdef lines for the rendered template $1 (see above).
cluster_defines() {
    case ${EDGE_POD_IP:-} in
    '' | *[!0-9.]*) fail "EDGE_DMQ_PEERS needs EDGE_POD_IP, this node's IPv4 address" ;;
    esac
    [ -n "${EDGE_NODE_NAME:-}" ] || fail "EDGE_DMQ_PEERS needs EDGE_NODE_NAME"
    sip_port=$(sed -n 's/^#!substdef "!HD_LISTEN!udp:[^:]*:\([0-9]*\)!g"$/\1/p' "$1")
    [ -n "$sip_port" ] || fail "EDGE_DMQ_PEERS needs a udp HD_LISTEN in the template"
    budget=${EDGE_PEER_WAIT_SECONDS:-60}
    own_port=""
    n=0
    for peer in $EDGE_DMQ_PEERS; do
        host=${peer%:*}
        port=${peer##*:}
        case $port in
        '' | *[!0-9]*) fail "EDGE_DMQ_PEERS: $peer is not host:port" ;;
        esac
        if [ "${host%%.*}" = "$EDGE_NODE_NAME" ]; then
            own_port=$port
            continue
        fi
        # The other nodes start at the same time: their names appear as
        # their pods get addresses. One budget for all of them.
        until ip=$(getent ahostsv4 "$host" | awk 'NR == 1 { print $1 }') && [ -n "$ip" ]; do
            [ "$budget" -gt 0 ] || break
            sleep 1
            budget=$((budget - 1))
        done
        if [ -z "$ip" ]; then
            echo "entrypoint: DMQ peer $host does not resolve; starting without it" >&2
            continue
        fi
        n=$((n + 1))
        [ "$n" -le 4 ] || fail "EDGE_DMQ_PEERS: kamailio.cfg takes at most 4 peers"
        echo "#!substdef \"!HD_DMQ_PEER_$n!$ip:$port!g\""
    done
    [ -n "$own_port" ] || fail "EDGE_DMQ_PEERS does not name this node ($EDGE_NODE_NAME)"
    echo "#!substdef \"!HD_DMQ_LISTEN!udp:$EDGE_POD_IP:$own_port!g\""
    echo "#!substdef \"!HD_DMQ_ADDRESS!$EDGE_POD_IP:$own_port!g\""
    echo "#!substdef \"!HD_NODE_ADDRESS!$EDGE_POD_IP:$sip_port!g\""
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
    if [ -n "${EDGE_DMQ_PEERS:-}" ]; then
        defines=$(cluster_defines "$local_cfg.new")
        echo "$defines" >>"$local_cfg.new"
    fi
    if [ -n "${EDGE_ADVERTISE_HOST:-}" ]; then
        case $EDGE_ADVERTISE_HOST in
        *[!A-Za-z0-9.-]*) fail "EDGE_ADVERTISE_HOST must be a host name or IPv4 address" ;;
        esac
        sed 's/^\(#!substdef "!HD_\(TLS_\)\{0,1\}ADVERTISE!\)[^:!]*:/\1'"$EDGE_ADVERTISE_HOST"':/' \
            "$local_cfg.new" >"$local_cfg.host"
        mv "$local_cfg.host" "$local_cfg.new"
    fi
    if [ -n "${EDGE_REDIS_CLUSTER:-}" ]; then
        { echo '#!define HD_CLUSTER_REDIS'; cat "$local_cfg.new"; } >"$local_cfg.redis"
        mv "$local_cfg.redis" "$local_cfg.new"
    fi
    mv "$local_cfg.new" "$local_cfg"
    umask 022
elif [ ! -f "$local_cfg" ]; then
    fail "neither $template nor $local_cfg exists"
elif [ -n "${EDGE_DMQ_PEERS:-}" ]; then
    fail "EDGE_DMQ_PEERS needs the template $template"
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
exec "$kamailio" -DD -E -f "$config" -Y "$run_dir" -m "$shm_mb" -M 16 -x tlsf "$@"
