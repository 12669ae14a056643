#!/usr/bin/env bash
# Benchmark: continuous batching on one CPU device (the `small` preset: llama2.c stories110M's shape,
# F32). 1, 4, 8, 16 and 32 jobs submitted at once, each a 16-token prompt and 64 sampled tokens:
# aggregate tokens/s, the ratio to one job alone, time to first token (p50 and worst) and whether the
# jobs' metered time adds up to the device's busy time. With --baseline-jar, also batch-1 decode of
# that agent jar (e.g. one built before batching) against this one, alternating, in the same run.
#
#   scripts/bench-batching.sh [--threads N] [--levels 1,4,8,16,32] [--tokens N] [--baseline-jar JAR]
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
threads=$(nproc) levels=1,4,8,16,32 tokens=64 baseline=""
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --levels) levels=$2; shift 2 ;;
        --tokens) tokens=$2; shift 2 ;;
        --baseline-jar) baseline=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -f agent/target/diem-agent.jar ] && [ -f bench/target/diem-bench.jar ] || ./mvnw -B -q -DskipTests package
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/diem-agent models make-test --out "$work/small" --preset small --seed 1 >/dev/null 2>&1
java -Djava.util.logging.config.file=/dev/null --add-modules jdk.incubator.vector \
    -cp agent/target/diem-agent.jar:bench/target/diem-bench.jar io.diem.bench.BatchingBenchmark \
    "$work/small" "$threads" "$levels" "$tokens" 2>/dev/null
if [ -n "$baseline" ]; then
    bos=$(python3 -c "import json; print(json.load(open('$work/small/config.json'))['bos_token_id'])")
    tps() { # jar
        java --add-modules jdk.incubator.vector -jar "$1" run --model "$work/small" --token-ids "$bos" --max-tokens 128 \
            --temperature 0 --engine cpu --threads "$threads" --json 2>/dev/null \
            | python3 -c "import json,sys; print('%.1f' % json.load(sys.stdin)['timings']['decode_tokens_per_second'])"
    }
    echo "batch-1 decode tok/s, $threads thread(s), alternating: baseline jar vs this one"
    for round in 1 2 3; do
        b=$(tps "$baseline"); n=$(tps agent/target/diem-agent.jar)
        echo "  round $round: baseline $b  this $n  ratio $(awk -v a="$n" -v b="$b" 'BEGIN{printf "%.2f", a/b}')"
    done
fi
echo "($(nproc) cores)"
