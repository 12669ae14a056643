#!/usr/bin/env bash
# Benchmark: the CPU engine on the `small` preset (llama2.c stories110M's shape, F32), on 1 and 2
# threads, side by side in the same run with llama2.c's run.c on the same weights: decode tokens/s
# (N tokens after one BOS token, greedy) and prefill tokens/s (a 256-token prompt: the engine appends
# it in one step as matrix products; run.c appends prompts token by token with its per-position
# forward pass, so its rate over 256 positions is taken as its prefill rate).
#
#   scripts/bench-cpu.sh [--llama2c DIR] [--tokens N] [--runs N]
#
# DIR is a checkout of https://github.com/karpathy/llama2.c (only run.c is used; it is compiled
# here with gcc -Ofast -fopenmp -march=native into a temporary folder, never into this repo).
# Without --llama2c only the Java engine is measured. Each figure is the best of --runs (3) runs.
# Needs numpy for the export.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
llama2c="" tokens=256 runs=3
while [ $# -gt 0 ]; do
    case "$1" in
        --llama2c) llama2c=$2; shift 2 ;;
        --tokens) tokens=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

[ -f agent/target/diem-agent.jar ] || ./mvnw -B -q -DskipTests package
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/diem-agent models make-test --out "$work/small" --preset small --seed 1 >/dev/null 2>&1
bos=$(python3 -c "import json; print(json.load(open('$work/small/config.json'))['bos_token_id'])")

prompt_ids=$(python3 -c "print(','.join(['$bos'] + [str(3 + (i * 37) % 31000) for i in range(255)]))")

best() { sort -g | tail -1; }

java_decode() { # threads
    for _ in $(seq 1 "$runs"); do
        scripts/diem-agent run --model "$work/small" --token-ids "$bos" --max-tokens "$tokens" --temperature 0 \
            --engine cpu --threads "$1" --json 2>/dev/null \
            | python3 -c "import json,sys; print('%.1f' % json.load(sys.stdin)['timings']['decode_tokens_per_second'])"
    done | best
}

java_prefill() { # threads: prompt tokens per second of wall time
    for _ in $(seq 1 "$runs"); do
        scripts/diem-agent run --model "$work/small" --token-ids "$prompt_ids" --max-tokens 1 --temperature 0 \
            --engine cpu --threads "$1" --json 2>/dev/null \
            | python3 -c "import json,sys; print('%.1f' % (256 / (json.load(sys.stdin)['timings']['prefill_ms'] / 1000)))"
    done | best
}

c_rate() { # threads positions: run.c's positions per second. It appends a prompt token by token with the same
    # forward pass as a generated one (and the synthetic vocabulary has no byte tokens its encoder needs),
    # so its rate over 256 positions after BOS is its prefill rate too.
    for _ in $(seq 1 "$runs"); do
        OMP_NUM_THREADS=$1 "$work/run" "$work/l2c/model.bin" -z "$work/l2c/tokenizer.bin" -t 0 -n "$2" 2>&1 \
            | sed -n 's/.*achieved tok\/s: \([0-9.]*\).*/\1/p' | awk '{printf "%.1f\n", $1}'
    done | best
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

if [ -n "$llama2c" ]; then
    python3 scripts/export-llama2c.py "$work/small" "$work/l2c"
    gcc -Ofast -fopenmp -march=native "$llama2c/run.c" -lm -o "$work/run"
fi

printf '%-8s %-10s %-14s %-16s %s\n' threads phase "diem (tok/s)" "run.c (tok/s)" "diem / run.c"
for threads in 1 2; do
    jd=$(java_decode "$threads"); jp=$(java_prefill "$threads")
    if [ -n "$llama2c" ]; then
        cd_=$(c_rate "$threads" $((tokens + 1))); cp=$(c_rate "$threads" 257)
        printf '%-8s %-10s %-14s %-16s %s\n' "$threads" decode "$jd" "$cd_" "$(ratio "$jd" "$cd_")"
        printf '%-8s %-10s %-14s %-16s %s\n' "$threads" prefill "$jp" "$cp" "$(ratio "$jp" "$cp")"
    else
        printf '%-8s %-10s %-14s %-16s %s\n' "$threads" decode "$jd" - -
        printf '%-8s %-10s %-14s %-16s %s\n' "$threads" prefill "$jp" - -
    fi
done
echo "(best of $runs; decode of $tokens tokens after one BOS token, prefill of 256 prompt tokens, greedy, small preset: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
