#!/usr/bin/env bash
# Benchmark: decode tokens/s of the CPU engine on the `small` preset (llama2.c stories110M's shape,
# F32), on 1 and 2 threads, side by side in the same run with llama2.c's run.c on the same weights.
#
#   scripts/bench-cpu.sh [--llama2c DIR] [--tokens N]
#
# DIR is a checkout of https://github.com/karpathy/llama2.c (only run.c is used; it is compiled
# here with gcc -Ofast -fopenmp, the classic flags, into a temporary folder, never into this repo).
# Without --llama2c only the Java engine is measured. Needs numpy for the export.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
llama2c="" tokens=256
while [ $# -gt 0 ]; do
    case "$1" in
        --llama2c) llama2c=$2; shift 2 ;;
        --tokens) tokens=$2; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

[ -f agent/target/diem-agent.jar ] || ./mvnw -B -q -DskipTests package
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/diem-agent models make-test --out "$work/small" --preset small --seed 1 >/dev/null 2>&1
bos=$(python3 -c "import json; print(json.load(open('$work/small/config.json'))['bos_token_id'])")

java_tps() { # threads
    scripts/diem-agent run --model "$work/small" --token-ids "$bos" --max-tokens "$tokens" --temperature 0 \
        --engine cpu --threads "$1" --json 2>/dev/null \
        | python3 -c "import json,sys; print('%.1f' % json.load(sys.stdin)['timings']['decode_tokens_per_second'])"
}

c_tps() { # threads
    OMP_NUM_THREADS=$1 "$work/run" "$work/l2c/model.bin" -z "$work/l2c/tokenizer.bin" -t 0 -n $((tokens + 1)) -i "" 2>&1 \
        | sed -n 's/.*achieved tok\/s: \([0-9.]*\).*/\1/p' | awk '{printf "%.1f", $1}'
}

if [ -n "$llama2c" ]; then
    python3 scripts/export-llama2c.py "$work/small" "$work/l2c"
    gcc -Ofast -fopenmp "$llama2c/run.c" -lm -o "$work/run"
fi

printf '%-8s %-22s %-22s %s\n' threads "diem cpu (tok/s)" "llama2.c run.c (tok/s)" "java / c"
for threads in 1 2; do
    j=$(java_tps "$threads")
    if [ -n "$llama2c" ]; then
        c=$(c_tps "$threads")
        printf '%-8s %-22s %-22s %s\n' "$threads" "$j" "$c" "$(awk -v a="$j" -v b="$c" 'BEGIN{printf "%.2f", a/b}')"
    else
        printf '%-8s %-22s %-22s %s\n' "$threads" "$j" "-" "-"
    fi
done
echo "(decode of $tokens tokens after one BOS token, greedy, small preset: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
