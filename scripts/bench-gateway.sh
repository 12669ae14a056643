#!/usr/bin/env bash
# Benchmark of the gateway, in one run:
#  1. overhead: p50/p99 of a 1-token call through the gateway minus the same call made directly to the
#     agent (tiny model, CPU engine), alternating, after two warm-ups; on H2, then on PostgreSQL;
#  2. capacity: admitted-and-booked calls/s with 8/32/128 clients against a stand-in node (the real
#     agent whose devices compute nothing), on H2, on PostgreSQL, and through two gateways on one
#     PostgreSQL, each level followed by the money checks (charged = shown, nobody over the allowance,
#     invariants);
#  3. with --soak S: S seconds on PostgreSQL at --soak-clients, printed every 10 s.
#
#   scripts/bench-gateway.sh [--calls N] [--warmup N] [--seconds S] [--soak S] [--soak-clients N] [--postgres JDBC_URL]
#   (defaults: 1000 pairs after 2 × 3000 warm-up pairs; 10 s per capacity level; no soak; 32 soak clients;
#    jdbc:postgresql://127.0.0.1:5432/test?user=postgres, skipped when it does not answer)
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
calls=1000 warmup=3000 seconds=10 soak=0 soak_clients=32
postgres=${DIEM_TEST_POSTGRES_URL:-jdbc:postgresql://127.0.0.1:5432/test?user=postgres}
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) calls=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --soak) soak=$2; shift 2 ;;
        --soak-clients) soak_clients=$2; shift 2 ;;
        --postgres) postgres=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -f gateway/target/diem-gateway.jar ] && [ -f agent/target/diem-agent.jar ] && [ -f bench/target/diem-bench.jar ] || ./mvnw -B -q -DskipTests package
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/diem-agent models make-test --out "$work/tiny" >/dev/null 2>&1
overhead() {
    java -Djava.util.logging.config.file=/dev/null -cp gateway/target/diem-gateway.jar:bench/target/diem-bench.jar \
        io.diem.bench.GatewayBenchmark agent/target/diem-agent.jar "$work/tiny" "$calls" "$warmup" "$@" 2>/dev/null
}
postgres_up=false
java -cp gateway/target/diem-gateway.jar io.diem.gateway.cli.GatewayMain check-config --db "$postgres" --data-dir "$work/check" \
    >/dev/null 2>&1 && postgres_up=true
echo "== overhead ($(nproc) cores; gateway and agent share them)"
overhead
if $postgres_up; then overhead "$postgres"; fi
capacity() {
    java -Djava.util.logging.config.file=/dev/null --add-modules jdk.incubator.vector \
        -cp gateway/target/diem-gateway.jar:agent/target/diem-agent.jar:bench/target/diem-bench.jar \
        io.diem.bench.GatewayCapacityBenchmark "$@" 2>/dev/null
}
echo "== capacity (gateways, stand-in node and clients share the $(nproc) cores)"
capacity h2 1 8,32,128 "$seconds"
if $postgres_up; then
    capacity "$postgres" 1 8,32,128 "$seconds"
    capacity "$postgres" 2 8,32,128 "$seconds"
    if [ "$soak" -gt 0 ]; then
        echo "== soak"
        capacity "$postgres" 1 "$soak_clients" 5 "$soak" "$soak_clients"
    fi
else
    echo "PostgreSQL at $postgres does not answer: its capacity runs are skipped"
fi
