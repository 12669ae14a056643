#!/usr/bin/env bash
# Installs the diem-compute node agent as a systemd service (idempotent: run it again to upgrade).
#
#   sudo scripts/install-agent.sh --gateway HOST:PORT --model DIR [--model DIR]... [--gateway-ca PEM] [--runtime JAVA_HOME]
#   sudo scripts/install-agent.sh --uninstall [--purge]
#
# Installs: /opt/diem-compute/{lib/diem-agent.jar,bin/diem-agent[,runtime/]}, /etc/diem-compute/agent.conf
# (commented; kept if present), the diem-agent system user, and /etc/systemd/system/diem-agent.service.
# Java: uses a Java >= 17 on the host; else --runtime DIR (e.g. a jlink image) is copied in; else
# openjdk-17-jre-headless is installed with apt-get when available.
# --uninstall removes the service, program and config but keeps /var/lib/diem-agent (the node key and
# the usage journal, which may still hold unshipped receipts) unless --purge is given.
# --gateway and --model are required on a first install (an upgrade keeps agent.conf). Before the
# service is enabled, `diem-agent check-config` checks the configuration (and, on a live install, that
# the gateway answers with a certificate this node trusts); a problem stops the install with the report.
# Also installs the docs where the unit's Documentation= points and bash completion for diem-agent.
# --root DIR installs into a staging tree instead of / (no user, no systemctl): for packaging and tests.
# The agent dials the gateway (TLS): the machine needs no inbound port. --gateway-ca is copied to
# /etc/diem-compute/gateway-ca.pem when the gateway's certificate is not signed by a public CA.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
root="" gateway="" gateway_ca="" runtime="" uninstall=false purge=false models=()
while [ $# -gt 0 ]; do
    case "$1" in
        --gateway) gateway=$2; shift 2 ;;
        --gateway-ca) gateway_ca=$2; shift 2 ;;
        --model) models+=("$2"); shift 2 ;;
        --runtime) runtime=$2; shift 2 ;;
        --uninstall) uninstall=true; shift ;;
        --purge) purge=true; shift ;;
        --root) root=$(readlink -f "$2"); shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
live=true
[ -z "$root" ] || live=false
opt="$root/opt/diem-compute" etc="$root/etc/diem-compute" unit="$root/etc/systemd/system/diem-agent.service"
state="$root/var/lib/diem-agent"
if ! $uninstall && [ ! -f "$etc/agent.conf" ]; then
    [ -n "$gateway" ] || { echo "error: --gateway HOST:PORT is required: the gateway this node opens its session with (TLS)" >&2; exit 2; }
    [ ${#models[@]} -gt 0 ] || { echo "error: --model DIR is required: a Hugging Face model directory to serve (repeat for more)" >&2; exit 2; }
fi
for m in "${models[@]}"; do
    dir=${m#*=}
    [ -d "$dir" ] && [ -r "$dir/config.json" ] || { echo "error: --model $m: $dir is not a readable model directory (no config.json)" >&2; exit 2; }
done
if $live && [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root (sudo), or use --root DIR to stage an install" >&2
    exit 1
fi
say() { echo "install-agent: $*"; }

if $uninstall; then
    if $live && command -v systemctl >/dev/null; then
        systemctl disable --now diem-agent.service 2>/dev/null || true
    fi
    rm -f "$unit"
    rm -rf "$opt/lib/diem-agent.jar" "$opt/bin/diem-agent" "$opt/bin/lib" "$opt/runtime"
    rm -f "$etc/agent.conf"
    if $purge; then
        rm -rf "$state"
        $live && userdel diem-agent 2>/dev/null || true
        say "removed, including the node key and usage journal in $state"
    else
        say "removed; kept $state (node key, usage journal). --purge removes it too"
    fi
    $live && command -v systemctl >/dev/null && systemctl daemon-reload || true
    exit 0
fi

jar="$repo/agent/target/diem-agent.jar"
if [ ! -f "$jar" ]; then
    say "building the agent jar"
    (cd "$repo" && ./mvnw -B -q -DskipTests package)
fi
install -d -m 0755 "$opt/lib" "$opt/bin/lib" "$etc"
install -m 0644 "$jar" "$opt/lib/diem-agent.jar"
install -m 0755 "$repo/scripts/diem-agent" "$opt/bin/diem-agent"
install -m 0644 "$repo/scripts/lib/java-launch.sh" "$opt/bin/lib/java-launch.sh"
ca_line="# gateway-ca = /etc/diem-compute/gateway-ca.pem"
if [ -n "$gateway_ca" ]; then
    [ -r "$gateway_ca" ] || { echo "error: cannot read --gateway-ca $gateway_ca" >&2; exit 2; }
    install -m 0644 "$gateway_ca" "$etc/gateway-ca.pem"
    ca_line="gateway-ca = /etc/diem-compute/gateway-ca.pem"
fi

# A Java runtime >= 17.
java_ok() {
    local v
    v=$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')
    [ -n "$v" ] && [ "$v" -ge 17 ]
}
if [ -n "$runtime" ]; then
    java_ok "$runtime/bin/java" || { echo "error: $runtime/bin/java is not a Java 17+ runtime" >&2; exit 1; }
    rm -rf "$opt/runtime" && cp -a "$runtime" "$opt/runtime"
    say "installed the Java runtime from $runtime"
elif ! { command -v java >/dev/null && java_ok "$(command -v java)"; } && [ ! -x "$opt/runtime/bin/java" ]; then
    if $live && command -v apt-get >/dev/null; then
        say "no Java 17+ found: installing openjdk-17-jre-headless"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless >/dev/null
    else
        echo "error: no Java 17+ on this host; pass --runtime JAVA_HOME (e.g. a jlink image)" >&2
        exit 1
    fi
fi

if [ ! -f "$etc/agent.conf" ]; then
    {
        echo "# diem-agent configuration. Every key is also a command-line flag (--key) and an environment"
        echo "# variable (DIEM_AGENT_KEY, dashes as underscores); flags win over variables, variables over this file."
        echo
        echo "# Gateway(s) this node opens its session with (host:port, comma-separated; TLS). The CA that signed"
        echo "# the gateway's certificate, unless a public CA in the system trust store did."
        echo "gateway = ${gateway}"
        echo "${ca_line}"
        echo
        echo "# Models to serve: comma-separated directories (Hugging Face layout), or NAME=DIR to name one."
        echo "model = $(IFS=,; echo "${models[*]:-}")"
        echo
        echo "# Engine: cuda, cpu, or auto (CUDA when a driver and GPU exist, else CPU)."
        echo "engine = auto"
        echo
        echo "# Local API for tools on this machine (NodeAgent: Describe, Cancel), loopback only; local-api = false for none."
        echo "port = 7071"
        echo "bind = 127.0.0.1"
        echo
        echo "# Prometheus metrics (/metrics, /healthz, /readyz): plain HTTP on loopback unless metrics-bind says otherwise."
        echo "metrics-port = 9471"
        echo "metrics-bind = 127.0.0.1"
        echo
        echo "# Jobs that may wait per device before callers get RESOURCE_EXHAUSTED."
        echo "queue = 32"
        echo
        echo "# On SIGTERM, how long running jobs may take to finish before they are cancelled."
        echo "drain-seconds = 60"
    } > "$etc/agent.conf"
    chmod 0644 "$etc/agent.conf"
    say "wrote $etc/agent.conf"
else
    say "kept existing $etc/agent.conf"
fi

# Docs where the unit's Documentation= lines point, and bash completion.
install -d -m 0755 "$opt/docs" "$root/usr/share/bash-completion/completions"
install -m 0644 "$repo/README.md" "$opt/README.md"
install -m 0644 "$repo"/docs/*.md "$opt/docs/"
DIEM_HOME="$opt" "$opt/bin/diem-agent" generate-completion > "$root/usr/share/bash-completion/completions/diem-agent"

# The configuration as the service will read it; nothing is enabled unless it is sound.
check_args=(check-config --config "$etc/agent.conf" --state-dir "$state")
$live || check_args+=(--offline) # a staged tree is not this machine's: its gateway need not be reachable from here
[ ! -f "$etc/gateway-ca.pem" ] || check_args+=(--gateway-ca "$etc/gateway-ca.pem")
if ! DIEM_HOME="$opt" "$opt/bin/diem-agent" "${check_args[@]}"; then
    echo "error: the configuration has problems (above); fix $etc/agent.conf or the flags and run the installer again" >&2
    exit 1
fi

install -d -m 0755 "$(dirname "$unit")"
install -m 0644 "$repo/systemd/diem-agent.service" "$unit"
if $live; then
    id diem-agent >/dev/null 2>&1 || useradd --system --home-dir /var/lib/diem-agent --shell /usr/sbin/nologin diem-agent
    # CUDA device files are usually group 'video' (or 'render'): let the agent open them.
    for g in video render; do getent group "$g" >/dev/null && usermod -a -G "$g" diem-agent; done
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable --now diem-agent.service
        say "diem-agent is running: systemctl status diem-agent; node id: $opt/bin/diem-agent id --state-dir /var/lib/diem-agent"
    else
        say "systemd is not running here: start it with $opt/bin/diem-agent serve --config $etc/agent.conf"
    fi
else
    say "staged into $root"
fi
