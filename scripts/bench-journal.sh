#!/usr/bin/env bash
# Benchmark: usage-journal appends/s with durability on (fsync, group commit) from 1 and 8 threads,
# and receipts/s through sealing, signing and verification of batches.
#
#   scripts/bench-journal.sh [--dir DIR] [--seconds N]
#
# DIR should be on the disk the agent's state directory uses (default: a temporary folder).
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
dir="" seconds=3
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -f agent/target/diem-agent.jar ] && [ -f bench/target/diem-bench.jar ] || ./mvnw -B -q -DskipTests package
work=${dir:-$(mktemp -d)}
[ -n "$dir" ] || trap 'rm -rf "$work"' EXIT
java -cp agent/target/diem-agent.jar:bench/target/diem-bench.jar io.diem.bench.JournalBenchmark "$work" "$seconds"
echo "(journal in $(df -P "$work" | awk 'NR==2 {print $1}'); $(nproc) cores)"
