#!/usr/bin/env bash
# The chaos run: two gateways on one PostgreSQL database, two node agents, three streaming clients
# (one call in five hangs up early), and --kills N SIGKILLs (default 20) of a random gateway or agent,
# each restarted at once on its own state. Then receipts are left to flow and the books are checked:
# every completed stream booked once at exactly the cost it showed, no receipt lost or booked twice,
# the ledger invariants (diem-gateway check-ledger), every node healthy without an operator, and
# why the calls that failed failed. Exit 1 if a check fails.
#
#   scripts/chaos.sh [--kills N] [--receipt-ttl SECONDS] [--pg HOST:PORT]
#
# Needs PostgreSQL with trust auth for user postgres (a fresh database chaos_<time> is made and kept
# for inspection). Work files and logs: a /tmp/diem-chaos.* directory, printed at the start.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
kills=20 pg=127.0.0.1:5432 ttl=60
while [ $# -gt 0 ]; do
    case "$1" in
        --kills) kills=$2; shift 2 ;;
        --pg) pg=$2; shift 2 ;;
        --receipt-ttl) ttl=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
work=$(mktemp -d /tmp/diem-chaos.XXXXXX)
mkdir -p "$work/load"
db_name="chaos_$(date +%s)"
psql -h "${pg%:*}" -p "${pg#*:}" -U postgres -d postgres -qc "CREATE DATABASE $db_name"
url="jdbc:postgresql://$pg/$db_name?user=postgres"
sql() { psql -h "${pg%:*}" -p "${pg#*:}" -U postgres -d "$db_name" -AtqF ' ' -c "$1"; }
say "work dir $work, database $db_name"

if [ ! -f agent/target/diem-agent.jar ] || [ ! -f gateway/target/diem-gateway.jar ]; then
    say "building (./mvnw -B -q -DskipTests package)"
    ./mvnw -B -q -DskipTests package
fi
model="$work/tiny"
scripts/diem-agent models make-test --out "$model" --preset tiny --seed 1 >/dev/null 2>&1
scripts/diem-gateway tls-local --dir "$work/tls" >/dev/null
export DIEM_CA="$work/tls/ca.pem"
gw_port=(7270 7280)
declare -A pid

stop_all() {
    touch "$work/stop"
    for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop_all EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() { # start g0|g1|a0|a1, logs appended to $work/NAME.log
    local name=$1 i=${1:1}
    if [ "${name:0:1}" = g ]; then
        scripts/diem-gateway serve --data-dir "$work/$name" --db "$url" --port "${gw_port[$i]}" --metrics-port "957$i" \
            --auto-close-epochs false --receipt-ttl-seconds "$ttl" \
            --tls-cert "$work/tls/server.pem" --tls-key "$work/tls/server.key" >> "$work/$name.log" 2>&1 &
        pid[$name]=$!
        for _ in $(seq 1 150); do listening "${gw_port[$i]}" && return 0; sleep 0.2; done
        echo "gateway $name did not start; see $work/$name.log" >&2; exit 1
    else
        scripts/diem-agent serve --state-dir "$work/$name" --gateway "127.0.0.1:${gw_port[0]},127.0.0.1:${gw_port[1]}" \
            --gateway-ca "$DIEM_CA" --no-local-api --metrics-port "959$i" --model "tiny=$model" --engine cpu --threads 1 \
            >> "$work/$name.log" 2>&1 &
        pid[$name]=$!
    fi
}

say "starting gateways g0 (:${gw_port[0]}) and g1 (:${gw_port[1]}) on $db_name, agents a0 and a1"
start g0
start g1
export DIEM_GATEWAY="127.0.0.1:${gw_port[0]}" DIEM_KEY
DIEM_KEY=$(cat "$work/g0/admin.key")
start a0
start a1
nodes_json() { scripts/diemctl --json node list 2>/dev/null || echo '{}'; }
for _ in $(seq 1 150); do
    [ "$(nodes_json | python3 -c "import json,sys; print(len(json.load(sys.stdin).get('nodes',[])))")" = 2 ] && break
    sleep 0.2
done
for node in $(nodes_json | python3 -c "import json,sys; [print(n['nodeId']) for n in json.load(sys.stdin).get('nodes',[])]"); do
    scripts/diemctl node approve "$node" >/dev/null
done
scripts/diemctl price set tiny --prompt-per-million 0.10 --completion-per-million 0.40 --per-gpu-second 0.0005 >/dev/null
account=$(scripts/diemctl --json account create chaos | python3 -c "import json,sys; print(json.load(sys.stdin)['accountId'])")
scripts/diemctl deposit vvv --account "$account" 5000 >/dev/null
scripts/diemctl stake vvv --account "$account" 5000 >/dev/null
scripts/diemctl mint --account "$account" 25 >/dev/null
scripts/diemctl stake diem --account "$account" 25 >/dev/null
app_key=$(scripts/diemctl --json key create --account "$account" --label chaos | python3 -c "import json,sys; print(json.load(sys.stdin)['secret'])")
for _ in $(seq 1 100); do DIEM_KEY=$app_key scripts/diemctl models list 2>/dev/null | grep -q "^tiny " && break; sleep 0.2; done

client() { # one streaming client: alternates gateways; one call in five is killed after 1.0-1.9 s (a hang-up)
    local c=$1 n=0 limit
    while [ ! -f "$work/stop" ]; do
        n=$((n + 1))
        limit=60
        if [ $((RANDOM % 5)) = 0 ]; then limit="1.$((RANDOM % 10))"; fi
        DIEM_GATEWAY="127.0.0.1:${gw_port[$(((c + n) % 2))]}" DIEM_KEY=$app_key timeout -s KILL "$limit" \
            scripts/diemctl generate --model tiny --prompt "chaos $c $n" --max-tokens $((4 + RANDOM % 20)) --temperature 0.8 \
            --seed $RANDOM > "$work/load/$c-$n.out" 2>&1 && rc=0 || rc=$?
        echo "$rc $limit" > "$work/load/$c-$n.rc"
    done
}
say "load: 3 clients; $kills kills"
client_pids=()
for c in 1 2 3; do client "$c" 2>/dev/null & client_pids+=($!); done
names=(g0 g1 a0 a1)
for k in $(seq 1 "$kills"); do
    sleep "$((2 + RANDOM % 3)).$((RANDOM % 10))"
    victim=${names[$((RANDOM % 4))]}
    kill -KILL "${pid[$victim]}" 2>/dev/null || true
    wait "${pid[$victim]}" 2>/dev/null || true
    printf '  kill %2d: %s\n' "$k" "$victim"
    sleep "0.$((RANDOM % 10))"
    start "$victim"
done
sleep 3
touch "$work/stop"
wait "${client_pids[@]}" 2>/dev/null || true

say "letting receipts flow (jobs still awaiting a receipt are settled by the overdue sweep after $ttl s)"
for _ in $(seq 1 120); do [ "$(sql "SELECT COUNT(*) FROM jobs WHERE state = 'dispatched'")" = 0 ] && break; sleep 1; done
for _ in $(seq 1 60); do
    nodes_json | python3 -c "import json,sys; n=json.load(sys.stdin).get('nodes',[]); sys.exit(0 if len(n)==2 and all(x.get('state')=='NODE_STATE_HEALTHY' for x in n) else 1)" && break
    sleep 1
done

sql "SELECT job_id, cost FROM usage_records" > "$work/booked.txt"
sql "SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state" > "$work/job-states.txt"
sql "SELECT COUNT(*) - COUNT(DISTINCT job_id) FROM usage_records" > "$work/duplicates.txt"
invariants=0
scripts/diem-gateway check-ledger --db "$url" 2>/dev/null > "$work/invariants.txt" || invariants=1
nodes_json > "$work/nodes.json"

python3 - "$work" "$kills" "$invariants" <<'EOF'
import collections, glob, json, os, re, sys
work, kills, invariants_failed = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
booked = dict(line.split() for line in open(f"{work}/booked.txt") if line.strip())
final = re.compile(r"cost \$([0-9.]+); node \S+, job (job_\S+)")
shown, failed, hung_up, calls = {}, collections.Counter(), 0, 0
for rc_file in glob.glob(f"{work}/load/*.rc"):
    calls += 1
    rc, limit = open(rc_file).read().split()
    text = open(rc_file[:-3] + ".out", errors="replace").read()
    m = final.search(text)
    if rc == "0" and m:
        shown[m.group(2)] = round(float(m.group(1)) * 1_000_000)
    elif rc == "137" and limit != "60":
        hung_up += 1
    else:
        errors = [l for l in text.splitlines() if l.startswith("error")]
        reason = errors[-1] if errors else f"exit {rc}"
        failed[re.sub(r"node-[0-9a-f]+", "node-…", re.sub(r"\d+ tokens", "N tokens", reason))[:110]] += 1
missing = [j for j in shown if j not in booked]
wrong = [j for j in shown if j in booked and int(booked[j]) != shown[j]]
states = dict(line.split() for line in open(f"{work}/job-states.txt") if line.strip())
duplicates = int(open(f"{work}/duplicates.txt").read().strip() or 0)
nodes = json.load(open(f"{work}/nodes.json")).get("nodes", [])
healthy = sum(1 for n in nodes if n.get("state") == "NODE_STATE_HEALTHY")
print(f"kills: {kills}; calls: {calls}: {len(shown)} completed, {hung_up} hung up by the client, {sum(failed.values())} failed")
print(f"completed streams booked at their shown cost: {len(shown) - len(missing) - len(wrong)} of {len(shown)}"
      f" (missing {len(missing)}, different {len(wrong)})")
print(f"jobs by state: {states}")
print(f"receipts lost (jobs settled at what was relayed): {states.get('settled_relayed', 0)}; "
      f"still awaiting a receipt: {states.get('dispatched', 0)}; booked twice: {duplicates}")
print(open(f"{work}/invariants.txt").read().strip())
print(f"nodes healthy without an operator: {healthy} of {len(nodes)}")
print(f"failed calls: {sum(failed.values())} of {calls} ({100.0 * sum(failed.values()) / max(calls, 1):.1f} %)")
for reason, n in failed.most_common(8):
    print(f"  {n:5d}  {reason}")
for j in (missing + wrong)[:5]:
    print(f"  job {j}: shown {shown[j]}, booked {booked.get(j)}")
ok = not missing and not wrong and duplicates == 0 and not invariants_failed and healthy == len(nodes) == 2 \
    and states.get("dispatched", 0) == 0
print("CHAOS CHECK " + ("PASSED" if ok else "FAILED"))
sys.exit(0 if ok else 1)
EOF
