#!/usr/bin/env bash
# The GPU check, run on the device machine in one call (prepare with scripts/device-bundle.sh and carry
# .device/bundle.tar.gz). Writes logs and JSON under $OUT and prints a table last:
#   (1) CUDA engine logits vs transformers float32 and vs the CPU engine (relative error), greedy
#       tokens on the tiny model;
#   (2) batch-1 decode tokens/s on the Llama-3.2-1B-shaped model (BF16) vs the HBM roofline from a
#       copy bandwidth measured in this run, and vs transformers generate on the same GPU;
#   (3) metered GPU-seconds vs busy time sampled independently by nvidia-smi.
set -uo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
final=${OUT:-$repo/.device/out}   # the device tool returns at most 8 files: results go back as one archive
mkdir -p "$final"
work=$(mktemp -d)
out="$work/results"
mkdir -p "$out"
tar xzf "$repo/.device/bundle.tar.gz" -C "$work"
java="$work/runtime/bin/java"
command -v java >/dev/null && java -version 2>&1 | grep -q 'version "\(1[7-9]\|2[0-9]\)' && java=java
agent() { "$java" --add-modules jdk.incubator.vector -jar "$work/diem-agent.jar" "$@"; }
ref() { python3 "$work/hf_reference.py" "$@" | tail -1; }
{ nvidia-smi; ldd --version | head -1; "$java" -version; } > "$out/machine.txt" 2>&1

# (1) exactness on the tiny model
agent models make-test --out "$work/ours-tiny" > /dev/null 2>&1
ref make --out "$work/hf-tiny" --preset tiny --seed 1 --dtype float32 --tokenizer "$work/ours-tiny/tokenizer.json" > "$out/make-tiny.json"
ids=1,17,300,42,7,99
ref logits --model "$work/hf-tiny" --ids $ids --new-tokens 16 > "$out/ref-tiny.json"
for e in cuda cpu; do
    agent run --model "$work/hf-tiny" --engine $e --token-ids $ids --max-tokens 16 --temperature 0 --json \
        --dump-logits "$out/$e-tiny-logits.json" > "$out/$e-tiny.json" 2> "$out/$e-tiny.log"
done

# (2) speed on the 1b shape
ref bandwidth --gib 4 > "$out/bandwidth.json"
ref make --out "$work/hf-1b" --preset 1b --seed 1 --dtype bfloat16 --tokenizer "$work/ours-tiny/tokenizer.json" > "$out/make-1b.json"
ref bench --model "$work/hf-1b" --new-tokens 128 > "$out/hf-bench-1b.json"
nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 > "$out/util.csv" &
smi=$!
start=$(date +%s.%N)
agent run --model "$work/hf-1b" --engine cuda --token-ids 1,2,3,4,5,6,7,8 --max-tokens 128 --temperature 0 --json \
    > "$out/cuda-1b.json" 2> "$out/cuda-1b.log"
end=$(date +%s.%N)
kill $smi 2>/dev/null

python3 - "$out" "$start" "$end" <<'PY'
import json, math, sys
out, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
def load(name):
    try:
        return json.load(open(f"{out}/{name}"))
    except Exception as e:
        return {"error": str(e)}
def rel(a, b):
    num = sum((x - y) ** 2 for x, y in zip(a, b)); den = sum(y * y for y in b)
    return math.sqrt(num / den) if den else float("nan")
ref = load("ref-tiny.json"); rows = []
for e in ("cuda", "cpu"):
    try:
        logits = json.load(open(f"{out}/{e}-tiny-logits.json")); run = load(f"{e}-tiny.json")
        rows.append((f"(1) {e} logits vs transformers fp32", f"rel err {rel(logits, ref['logits_last']):.2e}"))
        rows.append((f"(1) {e} greedy 16 tokens == transformers", str(run.get("generated_token_ids") == ref.get("greedy"))))
    except Exception as ex:
        rows.append((f"(1) {e}", f"FAILED: {ex}"))
try:
    c = json.load(open(f"{out}/cuda-tiny-logits.json")); p = json.load(open(f"{out}/cpu-tiny-logits.json"))
    rows.append(("(1) cuda vs cpu logits", f"rel err {rel(c, p):.2e}"))
except Exception as ex:
    rows.append(("(1) cuda vs cpu", f"FAILED: {ex}"))
bw = load("bandwidth.json"); made = load("make-1b.json"); hf = load("hf-bench-1b.json"); ours = load("cuda-1b.json")
try:
    gbps = bw["bandwidth_GBps"]; weight = made["weight_bytes"]
    roof = gbps * 1e9 / weight
    tps = ours["timings"]["decode_tokens_per_second"]
    rows.append(("(2) copy bandwidth", f"{gbps:.0f} GB/s; 1b weights {weight/1e9:.2f} GB/token -> roofline {roof:.1f} tok/s"))
    rows.append(("(2) cuda decode batch 1", f"{tps:.1f} tok/s = {tps/roof:.1%} of roofline"))
    rows.append(("(2) transformers generate", f"{hf['decode_tokens_per_s']:.1f} tok/s; ours / theirs = {tps/hf['decode_tokens_per_s']:.2f}"))
except Exception as ex:
    rows.append(("(2) speed", f"FAILED: {ex}"))
try:
    util = [float(x) for x in open(f"{out}/util.csv").read().split() if x.strip()]
    busy = sum(util) / 100 * 0.1
    metered = ours["metered"]["seconds"]
    rows.append(("(3) metered GPU-seconds", f"{metered:.3f} s vs nvidia-smi busy {busy:.3f} s over {end-start:.1f} s wall"))
except Exception as ex:
    rows.append(("(3) metering", f"FAILED: {ex}"))
print(f"{'check':45} result")
for k, v in rows:
    print(f"{k:45} {v}")
PY
echo "--- engine logs (tails) ---"
for f in cuda-tiny.log cpu-tiny.log cuda-1b.log; do echo "## $f"; tail -n 6 "$out/$f" 2>/dev/null; done
tar czf "$final/device-check.tar.gz" -C "$out" .
