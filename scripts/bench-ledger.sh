#!/usr/bin/env bash
# Benchmark: ledger reservations per second (reserve + post of one call) on the embedded H2 file and
# on PostgreSQL, from 1 and 8 threads, in the same run.
#
#   scripts/bench-ledger.sh [--seconds N] [--postgres JDBC_URL]
#
# Default PostgreSQL: jdbc:postgresql://127.0.0.1:5432/test?user=postgres (a fresh schema is made
# and dropped).
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
seconds=5 pg="jdbc:postgresql://127.0.0.1:5432/test?user=postgres"
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --postgres) pg=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -f gateway/target/diem-gateway.jar ] && [ -f bench/target/diem-bench.jar ] || ./mvnw -B -q -DskipTests package
export PGOPTIONS="--client-min-messages=warning"
schema="bench_$(date +%s)_$$"
psql -q "postgresql://postgres@127.0.0.1:5432/test" -c "CREATE SCHEMA $schema" >/dev/null
trap 'psql -q "postgresql://postgres@127.0.0.1:5432/test" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null' EXIT
run() { java -Djava.util.logging.config.file=/dev/null -cp gateway/target/diem-gateway.jar:bench/target/diem-bench.jar io.diem.bench.LedgerBenchmark "$@" 2>/dev/null; }
run h2 "$seconds"
sep='?'; case "$pg" in *\?*) sep='&' ;; esac
run "$pg${sep}currentSchema=$schema" "$seconds"
echo "($(nproc) cores; each thread reserves and posts on its own account)"
