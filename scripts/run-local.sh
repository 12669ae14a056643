#!/usr/bin/env bash
# The whole system on one machine: builds if needed, makes a tiny test model, starts the gateway
# (embedded ledger) and a node agent on loopback, approves the node, creates (once; reused after) a demo
# account with staked DIEM and an inference key, makes one gRPC and one HTTP call, then keeps running
# until Ctrl-C.
#
#   scripts/run-local.sh [--once] [--db JDBC_URL] [--model DIR] [--engine cpu|cuda|auto]
#
# --once exits after the demo call, stopping everything it started. State lives in ./run/ (delete
# it to start over), the local CA and the gateway's TLS certificate in ./run/tls/. Ports: gateway
# 7070 (gRPC, TLS), 7080 (OpenAI-style HTTP, TLS), 9470 (metrics); agent 7071 (metrics 9471).
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
once=false db="" model="" engine="auto"
while [ $# -gt 0 ]; do
    case "$1" in
        --once) once=true; shift ;;
        --db) db=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --engine) engine=$2; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
run="$repo/run"
mkdir -p "$run"
if [ ! -f agent/target/diem-agent.jar ] || [ ! -f gateway/target/diem-gateway.jar ]; then
    say "building (./mvnw -B -q -DskipTests package)"
    ./mvnw -B -q -DskipTests package
fi
if [ -z "$model" ]; then
    model="$run/models/tiny"
    [ -f "$model/config.json" ] || scripts/diem-agent models make-test --out "$model" --preset tiny --seed 1 2>/dev/null
fi
name=$(basename "$model")

pids=()
stop_all() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'stop_all' EXIT
trap 'echo; say "stopping"; exit 0' INT TERM

# TLS on every gRPC port, here too: a local CA and a certificate for 127.0.0.1/localhost, made once.
scripts/diem-gateway tls-local --dir "$run/tls" >/dev/null
export DIEM_CA="$run/tls/ca.pem"

say "starting the gateway (logs: run/gateway.log)"
gw_args=(serve --data-dir "$run/gateway" --port 7070 --http-port 7080 --metrics-port 9470 --auto-close-epochs true
    --tls-cert "$run/tls/server.pem" --tls-key "$run/tls/server.key")
[ -z "$db" ] || gw_args+=(--db "$db")
scripts/diem-gateway "${gw_args[@]}" > "$run/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$run/gateway/admin.key" ] && grep -q "listening" "$run/gateway.log" && break; sleep 0.2; done
grep -q "listening" "$run/gateway.log" || { cat "$run/gateway.log"; echo "gateway did not start" >&2; exit 1; }
export DIEM_GATEWAY=127.0.0.1:7070
export DIEM_KEY
DIEM_KEY=$(cat "$run/gateway/admin.key")

say "starting the node agent (logs: run/agent.log)"
scripts/diem-agent serve --state-dir "$run/agent" --gateway 127.0.0.1:7070 --gateway-ca "$DIEM_CA" --port 7071 --metrics-port 9471 \
    --model "$name=$model" --engine "$engine" > "$run/agent.log" 2>&1 &
pids+=($!)
node=""
for _ in $(seq 1 150); do
    node=$(scripts/diemctl --json node list 2>/dev/null | python3 -c "import json,sys; n=json.load(sys.stdin).get('nodes',[]); print(n[0]['nodeId'] if n else '')" 2>/dev/null || true)
    [ -n "$node" ] && break
    sleep 0.2
done
[ -n "$node" ] || { cat "$run/agent.log"; echo "the agent did not register" >&2; exit 1; }
say "approving node $node"
scripts/diemctl node approve "$node" >/dev/null
scripts/diemctl price set "$name" --prompt-per-million 0.10 --completion-per-million 0.40 --per-gpu-second 0.0005 >/dev/null

# The demo account and its inference key are made once and reused (run/demo.env) while the ledger keeps them.
demo="$run/demo.env"
app_key=""
if [ -f "$demo" ]; then
    . "$demo"
    DIEM_KEY=$app_key scripts/diemctl balance >/dev/null 2>&1 || app_key=""
fi
if [ -n "$app_key" ]; then
    say "reusing the demo account $account (run/demo.env)"
else
    say "creating a demo account with 25 staked DIEM (\$25 of inference per day)"
    account=$(scripts/diemctl --json account create demo | python3 -c "import json,sys; print(json.load(sys.stdin)['accountId'])")
    scripts/diemctl deposit vvv --account "$account" 5000 >/dev/null
    scripts/diemctl stake vvv --account "$account" 5000 >/dev/null
    scripts/diemctl mint --account "$account" 25 >/dev/null
    scripts/diemctl stake diem --account "$account" 25 >/dev/null
    app_key=$(scripts/diemctl --json key create --account "$account" --label demo | python3 -c "import json,sys; print(json.load(sys.stdin)['secret'])")
    (umask 077 && printf 'account=%s\napp_key=%s\n' "$account" "$app_key" > "$demo")
fi
for _ in $(seq 1 50); do DIEM_KEY=$app_key scripts/diemctl models list 2>/dev/null | grep -q "^$name " && break; sleep 0.2; done

[ "$name" != tiny ] || say "the tiny model has random weights on purpose (tests make their own): expect gibberish, exact charges"
say "calling the API: diemctl generate --model $name --prompt 'The node agent'"
DIEM_KEY=$app_key scripts/diemctl generate --model "$name" --prompt "The node agent" --max-tokens 24 --temperature 0.8 --seed 7

chat_body='{"model": "'"$name"'", "messages": [{"role": "user", "content": "The node agent"}], "max_tokens": 16, "seed": 7}'
if command -v curl >/dev/null 2>&1; then
    say "calling the OpenAI-style HTTP API: POST https://127.0.0.1:7080/v1/chat/completions"
    curl -sS --fail-with-body --cacert "$run/tls/ca.pem" https://127.0.0.1:7080/v1/chat/completions \
        -H "Authorization: Bearer $app_key" -H "Content-Type: application/json" -d "$chat_body"
    echo
fi

if $once; then
    say "done (--once): stopping everything"
    exit 0
fi
cat <<EOT

The system is running. More calls (the model is random on purpose: expect gibberish):
  DIEM_GATEWAY=127.0.0.1:7070 DIEM_CA=run/tls/ca.pem DIEM_KEY=$app_key scripts/diemctl generate --model $name --prompt "Hello" --max-tokens 32
  curl --cacert run/tls/ca.pem https://127.0.0.1:7080/v1/chat/completions -H "Authorization: Bearer $app_key" \\
       -H "Content-Type: application/json" -d '$chat_body'
OpenAI SDKs: base_url https://127.0.0.1:7080/v1, api_key $app_key (trust run/tls/ca.pem: NODE_EXTRA_CA_CERTS or SSL_CERT_FILE), e.g.
  (cd scripts/openai-smoke && npm ci --silent && NODE_EXTRA_CA_CERTS=../../run/tls/ca.pem K=$app_key node -e 'import("openai").then(async ({default: OpenAI}) => { const c = new OpenAI({baseURL: "https://127.0.0.1:7080/v1", apiKey: process.env.K}); const r = await c.chat.completions.create({model: "$name", messages: [{role: "user", content: "Hi"}], max_tokens: 16}); console.log(r.choices[0].message.content, r.usage); })')
Operator (admin key in run/gateway/admin.key):  DIEM_CA=run/tls/ca.pem scripts/diemctl --key-file run/gateway/admin.key node list
Metrics: curl localhost:9470/metrics (gateway), curl localhost:9471/metrics (agent)
Ctrl-C stops everything.
EOT
while true; do sleep 3600; done
