#!/usr/bin/env bash
# Installs the diem-compute gateway as a systemd service (idempotent: run it again to upgrade).
#
#   sudo scripts/install-gateway.sh [--tls-cert PEM --tls-key PEM] [--db JDBC_URL] [--runtime JAVA_HOME]
#   sudo scripts/install-gateway.sh --uninstall [--purge]
#
# Installs /opt/diem-compute/{lib/diem-gateway.jar,bin/diem-gateway,bin/diemctl}, a commented
# /etc/diem-compute/gateway.conf (kept if present), the diem-gateway user and the unit. The embedded
# ledger and the bootstrap admin key live in /var/lib/diem-gateway; --uninstall keeps them unless
# --purge. --root DIR stages the install into DIR (no user, no systemctl). With --tls-cert/--tls-key
# (copied to /etc/diem-compute/tls/, the key 0600) the gRPC port listens on every address over TLS;
# without them it listens on 127.0.0.1 only (a plaintext port is never opened to the network).
# Before the service is enabled, `diem-gateway check-config` checks the configuration (and, on a live
# install, that the ledger database answers); a problem stops the install with the report. Also installs
# the docs where the unit's Documentation= points and bash completion for diem-gateway and diemctl.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
root="" db="" runtime="" tls_cert="" tls_key="" uninstall=false purge=false
while [ $# -gt 0 ]; do
    case "$1" in
        --db) db=$2; shift 2 ;;
        --tls-cert) tls_cert=$2; shift 2 ;;
        --tls-key) tls_key=$2; shift 2 ;;
        --runtime) runtime=$2; shift 2 ;;
        --uninstall) uninstall=true; shift ;;
        --purge) purge=true; shift ;;
        --root) root=$(readlink -f "$2"); shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
live=true
[ -z "$root" ] || live=false
opt="$root/opt/diem-compute" etc="$root/etc/diem-compute" unit="$root/etc/systemd/system/diem-gateway.service"
state="$root/var/lib/diem-gateway"
if $live && [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root (sudo), or use --root DIR to stage an install" >&2
    exit 1
fi
say() { echo "install-gateway: $*"; }
if [ -n "$tls_cert$tls_key" ] && { [ ! -r "$tls_cert" ] || [ ! -r "$tls_key" ]; }; then
    echo "error: TLS needs both --tls-cert PEM and --tls-key PEM, readable" >&2
    exit 2
fi

if $uninstall; then
    $live && command -v systemctl >/dev/null && systemctl disable --now diem-gateway.service 2>/dev/null || true
    rm -f "$unit" "$opt/lib/diem-gateway.jar" "$opt/bin/diem-gateway" "$opt/bin/diemctl" "$etc/gateway.conf"
    if $purge; then
        rm -rf "$state"
        $live && userdel diem-gateway 2>/dev/null || true
        say "removed, including the ledger and admin key in $state"
    else
        say "removed; kept $state (ledger, admin key). --purge removes it too"
    fi
    exit 0
fi

jar="$repo/gateway/target/diem-gateway.jar"
[ -f "$jar" ] || (cd "$repo" && ./mvnw -B -q -DskipTests package)
install -d -m 0755 "$opt/lib" "$opt/bin/lib" "$etc"
install -m 0644 "$jar" "$opt/lib/diem-gateway.jar"
install -m 0755 "$repo/scripts/diem-gateway" "$opt/bin/diem-gateway"
install -m 0755 "$repo/scripts/diemctl" "$opt/bin/diemctl"
install -m 0644 "$repo/scripts/lib/java-launch.sh" "$opt/bin/lib/java-launch.sh"
bind=127.0.0.1 tls_lines="# tls-cert = /etc/diem-compute/tls/server.pem
# tls-key = /etc/diem-compute/tls/server.key"
if [ -n "$tls_cert" ]; then
    install -d -m 0755 "$etc/tls"
    install -m 0644 "$tls_cert" "$etc/tls/server.pem"
    install -m 0600 "$tls_key" "$etc/tls/server.key"
    bind=0.0.0.0 tls_lines="tls-cert = /etc/diem-compute/tls/server.pem
tls-key = /etc/diem-compute/tls/server.key"
fi
if [ -n "$runtime" ]; then
    rm -rf "$opt/runtime" && cp -a "$runtime" "$opt/runtime"
elif ! command -v java >/dev/null && [ ! -x "$opt/runtime/bin/java" ]; then
    if $live && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless >/dev/null
    else
        echo "error: no Java 17+ on this host; pass --runtime JAVA_HOME" >&2
        exit 1
    fi
fi
if [ ! -f "$etc/gateway.conf" ]; then
    cat > "$etc/gateway.conf" <<EOT
# diem-gateway configuration. Every key is also a flag (--key) and a DIEM_GATEWAY_KEY variable
# (dashes as underscores); flags win over variables, variables over this file.

# Public gRPC API (Inference, Staking, Admin, NodeRegistry) and the address to listen on. A
# non-loopback bind needs TLS (a PEM certificate chain and its PKCS#8 key, re-read when they change);
# behind a TLS-terminating proxy, insecure-plaintext = true serves plaintext and logs a warning.
port = 7070
bind = ${bind}
# OpenAI-style HTTP API (/v1/chat/completions, …) on the same address, with the same TLS; -1 = off.
http-port = 7080
${tls_lines}

# Prometheus metrics (/metrics, /healthz, /readyz): plain HTTP, on loopback unless metrics-bind says
# otherwise (then firewall it to the Prometheus host).
metrics-port = 9470
metrics-bind = 127.0.0.1

# Ledger: empty for the embedded H2 file in the data directory, or PostgreSQL shared by gateways,
# e.g. jdbc:postgresql://db.example:5432/diem?user=diem
db = ${db}

# Providers' share of each epoch's fees, in basis points (the rest goes to VVV stakers).
provider-share-bps = 7000

# Close each UTC day's epoch automatically this many minutes after midnight.
auto-close-epochs = true
epoch-close-delay-minutes = 15

# Jobs without a receipt this long after their stream ended are charged at what was relayed.
receipt-ttl-seconds = 300

# GPU-time limit of each call's ticket (and the GPU part of its worst-case reservation).
max-gpu-seconds-per-call = 30
EOT
    say "wrote $etc/gateway.conf"
fi
install -d -m 0755 "$opt/docs" "$root/usr/share/bash-completion/completions"
install -m 0644 "$repo/README.md" "$opt/README.md"
install -m 0644 "$repo"/docs/*.md "$opt/docs/"
DIEM_HOME="$opt" "$opt/bin/diem-gateway" generate-completion > "$root/usr/share/bash-completion/completions/diem-gateway"
DIEM_HOME="$opt" "$opt/bin/diemctl" generate-completion > "$root/usr/share/bash-completion/completions/diemctl"

check_args=(check-config --config "$etc/gateway.conf" --data-dir "$state")
$live || check_args+=(--offline)
[ ! -f "$etc/tls/server.pem" ] || check_args+=(--tls-cert "$etc/tls/server.pem" --tls-key "$etc/tls/server.key")
if ! DIEM_HOME="$opt" "$opt/bin/diem-gateway" "${check_args[@]}"; then
    echo "error: the configuration has problems (above); fix $etc/gateway.conf or the flags and run the installer again" >&2
    exit 1
fi

install -d -m 0755 "$(dirname "$unit")"
install -m 0644 "$repo/systemd/diem-gateway.service" "$unit"
if $live; then
    id diem-gateway >/dev/null 2>&1 || useradd --system --home-dir /var/lib/diem-gateway --shell /usr/sbin/nologin diem-gateway
    [ ! -f "$etc/tls/server.key" ] || chown diem-gateway "$etc/tls/server.key"
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable --now diem-gateway.service
        say "running; the bootstrap admin key is in /var/lib/diem-gateway/admin.key"
    else
        say "systemd is not running here: start it with $opt/bin/diem-gateway serve --config $etc/gateway.conf"
    fi
else
    say "staged into $root"
fi
