#!/usr/bin/env bash
# Benchmark: gateway overhead (p50/p99 of a call through the gateway minus the same call made
# directly to the agent, alternating in one run) and admitted calls/s from 8 clients, on a tiny model
# with the CPU engine, embedded ledger.
#
#   scripts/bench-gateway.sh [--calls N] [--warmup N]     (defaults 1000 measured pairs after 2 × 3000 warm-up pairs)
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
calls=1000 warmup=3000
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) calls=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -f gateway/target/diem-gateway.jar ] && [ -f agent/target/diem-agent.jar ] && [ -f bench/target/diem-bench.jar ] || ./mvnw -B -q -DskipTests package
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/diem-agent models make-test --out "$work/tiny" >/dev/null 2>&1
java -Djava.util.logging.config.file=/dev/null -cp gateway/target/diem-gateway.jar:bench/target/diem-bench.jar io.diem.bench.GatewayBenchmark \
    agent/target/diem-agent.jar "$work/tiny" "$calls" "$warmup" 2>/dev/null
echo "($(nproc) cores; gateway and agent share them)"
