#!/usr/bin/env bash
# The gateway under load: N signed PEC envelopes of 10 KB through SMTP in -> translation ->
# SMTP out, the spool on disk, a real SMTP sink in another process (bench/src/bin/smtp_sink.rs,
# or the tests' aiosmtpd sink; both store each message with fsync before their 250 and
# advertise PIPELINING as Postfix does). Prints the sustained rate (accepted and end to end), the latency
# of the SMTP transaction (MAIL to the final reply to DATA: judged, translated and stored
# before the 250), ring's one-core RSA-2048 signing rate measured in the same run (each
# message costs two signatures, the evidence's XAdES and the REM message's S/MIME, so on 2
# cores that rate is the bound in msg/s), and where the cores went: CPU milliseconds per
# message of the gateway (all nodes), of PostgreSQL (when used) and of the sink, and the share
# of the gateway's CPU that is the two signatures.
#
#   bench/gateway.sh [N [CLIENTS]]      defaults 1000 messages, 8 connections
#
# Environment:
#   RUNS="no-tsa dev-tsa"  the runs: without a TSA (evidence B-B) and with the development TSA
#                          as a separate process (evidence B-T: one HTTP round trip per message)
#   SPOOL=embedded|pg      the spool: embedded (default) or PostgreSQL (a private cluster made
#                          here with initdb, fsync on, as `nobody` when run as root)
#   NODES=1                gateway processes sharing the PostgreSQL spool (SPOOL=pg); the
#                          load's connections are spread over them
#   SINK=rust|python       the receiving MTA: bench's smtp_sink (default; about 0.5 ms of CPU per
#                          message, mostly fsync) or tests/peers/smtp_sink.py (aiosmtpd; 1.6-2.7 ms per message
#                          on the same two cores, which the gateway then does not have)
#   SINK_ARGS=--pipelining options of the sink ("" for a sink without PIPELINING)
#   PERF=DIR               a perf profile of the (first) gateway per run, DIR/LABEL.data
#   PERF_OPTS="-F 999 -g"  perf record options (e.g. "-F 499 --call-graph dwarf,16384")
#   COUNT=1                count the gateway's fdatasync and pwrite64 calls and context switches
#                          per message (perf stat on the syscall tracepoints), added to the lines
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
CLIENTS=${2:-8}
RUNS=${RUNS:-no-tsa dev-tsa}
SPOOL=${SPOOL:-embedded}
NODES=${NODES:-1}
PY=/usr/bin/python3
SINK=${SINK:-rust}
PGBIN=/usr/lib/postgresql/15/bin
case "$SINK" in
  rust) ;;
  python) $PY -c 'import aiosmtpd' 2>/dev/null || { echo "SINK=python needs Debian python3-aiosmtpd" >&2; exit 2; } ;;
  *) echo "SINK must be rust or python" >&2; exit 2 ;;
esac
case "$SPOOL" in
  embedded) [ "$NODES" = 1 ] || { echo "NODES > 1 needs SPOOL=pg" >&2; exit 2; } ;;
  pg) [ -x "$PGBIN/initdb" ] || { echo "SPOOL=pg needs Debian postgresql ($PGBIN)" >&2; exit 2; } ;;
  *) echo "SPOOL must be embedded or pg" >&2; exit 2 ;;
esac

cargo build --release -q -p ponte -p ponte-bench --bin ponte --bin gateway_load --bin smtp_sink
PONTE=$PWD/target/release/ponte
SINK_BIN=$PWD/target/release/smtp_sink
LOAD=$PWD/target/release/gateway_load
T=$(mktemp -d)
chmod 755 "$T"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$T"; }
trap cleanup EXIT

port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TICKS=$(getconf CLK_TCK)
# user + system CPU time of processes, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' /proc/"$p"/stat))); done; echo "$t"; }
# The postmaster and its children (the backends serving the nodes, and its own workers).
pg_pids() { echo "$PG_PID"; pgrep -P "$PG_PID" || true; }
# CPU ticks of PostgreSQL as "pid:ticks" lines; pg_spent BEFORE AFTER sums what each process
# spent in between (a backend started meanwhile counts from zero).
pg_ticks() { local p; for p in $(pg_pids); do echo "$p:$(cpu "$p" 2>/dev/null || echo 0)"; done; }
pg_spent() {
  python3 - "$1" "$2" <<'PY'
import sys
before = dict(l.split(":") for l in sys.argv[1].split())
after = dict(l.split(":") for l in sys.argv[2].split())
print(sum(int(t) - int(before.get(p, 0)) for p, t in after.items()))
PY
}
ms_per_msg() { echo "$(( $1 * 1000 / TICKS / N )).$(( $1 * 10000 / TICKS / N % 10 ))"; }
wait_port() { for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

PG_PORT="" PG_PID=""
AS_PG=()
[ "$(id -u)" = 0 ] && AS_PG=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
start_pg() {
  mkdir -p "$T/pg"
  [ "$(id -u)" = 0 ] && chown nobody:nogroup "$T/pg"
  "${AS_PG[@]}" "$PGBIN/initdb" -D "$T/pg/data" -A trust -U ponte -E UTF8 > "$T/pg/initdb.out" 2>&1
  PG_PORT=$(port)
  # setpriv execs: $! is the postmaster itself.
  "${AS_PG[@]}" "$PGBIN/postgres" -D "$T/pg/data" -p "$PG_PORT" -k "$T/pg" -c listen_addresses=127.0.0.1 \
    -c max_connections=200 > "$T/pg/postgres.log" 2>&1 & PG_PID=$!; pids+=("$PG_PID")
  for _ in $(seq 1 100); do "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q && break; sleep 0.1; done
}
[ "$SPOOL" = pg ] && start_pg

DB=0
run() { # $1 = label, $2 = "tsa" or ""; runs in a subshell ($(run ...)): its processes are
  # its own to stop, on every way out.
  MINE=()
  trap 'kill "${MINE[@]}" 2>/dev/null || true' EXIT
  local d=$T/$1; mkdir -p "$d/sink"
  local sp; sp=$(port)
  # shellcheck disable=SC2086
  if [ "$SINK" = rust ]; then
    "$SINK_BIN" --listen 127.0.0.1:"$sp" --dir "$d/sink" ${SINK_ARGS---pipelining} > "$d/sink.out" 2>&1 & MINE+=($!)
  else
    $PY tests/peers/smtp_sink.py --listen 127.0.0.1:"$sp" --dir "$d/sink" ${SINK_ARGS---pipelining} > "$d/sink.out" 2>&1 & MINE+=($!)
  fi
  local sink=$!
  wait_port "$sp"
  local tsa_table="" tsa_anchor=$PWD/tests/pki/root-ca.pem
  if [ "$2" = tsa ]; then
    local tp; tp=$(port)
    "$PONTE" tsa serve --listen 127.0.0.1:"$tp" --data "$d/tsa" > "$d/tsa.out" 2>/dev/null & MINE+=($!)
    wait_port "$tp"
    tsa_table="[tsa]
url = \"http://127.0.0.1:$tp/\""
    tsa_anchor=$d/tsa/tsa.pem
  fi
  local spool_table="[spool]
path = \"spool\""
  if [ "$SPOOL" = pg ]; then
    DB=$((DB + 1))
    "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U ponte -d postgres -q -c "CREATE DATABASE bench_$DB"
    spool_table="[spool]
url = \"postgres://ponte@127.0.0.1:$PG_PORT/bench_$DB\""
  fi
  local k=$PWD/tests/pki gws=() addrs=""
  for node in $(seq 1 "$NODES"); do
    local gp op; gp=$(port); op=$(port)
    mkdir -p "$d/node$node"
    cat > "$d/node$node/ponte.toml" <<EOF
[identity]
provider_name = "Gestore Prova S.p.A."
domain = "pec.prova.test"
pec_key = "$k/pec-rsa.key.pem"
pec_cert = "$k/pec-rsa.pem"
pec_chain = ["$k/provider-ca.pem"]
rem_key = "$k/rem-rsa.key.pem"
rem_cert = "$k/rem-rsa.pem"
rem_chain = ["$k/provider-ca.pem"]
[trust]
pec_anchors = ["$k/root-ca.pem"]
rem_anchors = ["$k/root-ca.pem"]
tsa_anchors = ["$tsa_anchor"]
$tsa_table
[policy]
applicable = ["http://uri.etsi.org/19532/v1#/REMbaseline", "https://eidas.agid.gov.it/REM/rem-policy-it"]
[smtp]
listen = "127.0.0.1:$gp"
$spool_table
[ops]
listen = "127.0.0.1:$op"
[[route]]
domain = "*"
relay = "127.0.0.1:$sp"
tls = "none"
[pec]
relay = "127.0.0.1:$sp"
tls = "none"
[delivery]
per_destination = 8
EOF
    [ "$SPOOL" = pg ] && sed -i "s|^url = \"postgres://.*|&\nnode = \"node$node\"|" "$d/node$node/ponte.toml"
    (cd "$d/node$node" && PONTE_LOG=warn exec "$PONTE" serve --config ponte.toml > serve.out 2> serve.err) & MINE+=($!)
    gws+=($!)
    wait_port "$gp"
    addrs="${addrs:+$addrs,}127.0.0.1:$gp"
  done
  local g0 s0 p0=""; g0=$(cpu "${gws[@]}"); s0=$(cpu "$sink")
  [ "$SPOOL" = pg ] && p0=$(pg_ticks)
  local perf_pid=""
  if [ -n "${PERF:-}" ]; then
    mkdir -p "$PERF"; perf record ${PERF_OPTS:--F 999 -g} -p "${gws[0]}" -o "$PERF/$1.data" 2>/dev/null & perf_pid=$!
  fi
  local stat_pid=""
  if [ -n "${COUNT:-}" ]; then
    local ids; ids=$(IFS=,; echo "${gws[*]}")
    perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_pwrite64,context-switches \
      -p "$ids" -o "$d/count" 2>/dev/null & stat_pid=$!
    sleep 0.3
  fi
  local line; line=$("$LOAD" --smtp "$addrs" --sink "$d/sink" --n "$N" --clients "$CLIENTS")
  if [ -n "$stat_pid" ]; then
    kill -INT "$stat_pid"; wait "$stat_pid" 2>/dev/null || true
    line="$line $(awk -F, -v n="$N" '$3 ~ /fdatasync|pwrite64|context-switches/ {k=$3; sub(/.*sys_enter_/, "", k); sub(/-/, "_", k); printf "%s_per_msg=%.1f ", k, $1 / n}' "$d/count")"
  fi
  local g1 s1 pg=0; g1=$(cpu "${gws[@]}"); s1=$(cpu "$sink")
  # Backends that exited meanwhile are not counted: the nodes keep their pools open.
  [ "$SPOOL" = pg ] && pg=$(pg_spent "$p0" "$(pg_ticks)")
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  echo "$1 $line gateway_cpu_ms=$(ms_per_msg $((g1 - g0))) pg_cpu_ms=$(ms_per_msg "$pg") sink_cpu_ms=$(ms_per_msg $((s1 - s0)))"
}

echo "# bench/gateway.sh N=$N clients=$CLIENTS spool=$SPOOL nodes=$NODES sink=$SINK on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
lines=()
for r in $RUNS; do
  case "$r" in
    no-tsa) lines+=("$(run no-tsa "")") ;;
    dev-tsa) lines+=("$(run dev-tsa tsa)") ;;
    *) echo "unknown run $r (no-tsa, dev-tsa)" >&2; exit 2 ;;
  esac
done
printf '%s\n' "${lines[@]}"
python3 - "$SPOOL" "$NODES" "${lines[@]}" <<'EOF'
import sys
spool, nodes = sys.argv[1], sys.argv[2]
rows = []
for line in sys.argv[3:]:
    label, *kv = line.split()
    d = dict(x.split("=", 1) for x in kv)
    rows.append((label, d))
print()
print("| run | spool | nodes | msg/s accepted | msg/s end to end | p50 ms | p99 ms | ring RSA-2048 sign/s (1 core) | bound msg/s (2 cores, 2 signs each) | end to end ÷ bound | gateway CPU ms/msg | of which 2 signs | PostgreSQL CPU ms/msg | sink CPU ms/msg |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for label, d in rows:
    ring = float(d["ring_sign_per_s"])
    bound = ring  # 2 cores x (ring/2 messages per core-second)
    g = float(d["gateway_cpu_ms"])
    share = f"{2000 / ring / g:.2f}" if g > 0 else "-"
    pg = d["pg_cpu_ms"] if spool == "pg" else "-"
    print(f"| {label} | {spool} | {nodes} | {float(d['accepted_per_s']):.0f} | {float(d['end_to_end_per_s']):.0f} | {d['p50_ms']} | {d['p99_ms']} | {ring:.0f} | {bound:.0f} | {float(d['end_to_end_per_s'])/bound:.2f} | {d['gateway_cpu_ms']} | {share} | {pg} | {d['sink_cpu_ms']} |")
EOF
