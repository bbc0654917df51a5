#!/usr/bin/env bash
# The gateway under load: N signed PEC envelopes of 10 KB through SMTP in -> translation ->
# SMTP out, the spool on disk, a real SMTP sink (aiosmtpd) in another process. Prints the
# sustained rate (accepted and end to end), the latency of the SMTP transaction (MAIL to the
# final reply to DATA: judged, translated and stored before the 250), and ring's one-core
# RSA-2048 signing rate measured in the same run: each message costs two signatures (the
# evidence's XAdES and the REM message's S/MIME), so on 2 cores that rate is the bound in msg/s.
#
#   bench/gateway.sh [N [CLIENTS]]      defaults 1000 messages, 8 connections
#
# Two runs: without a TSA (evidence B-B) and with the development TSA as a separate process
# (evidence B-T: one HTTP round trip per message, on the same cores).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
CLIENTS=${2:-8}
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || { echo "needs Debian python3-aiosmtpd" >&2; exit 2; }

cargo build --release -q -p ponte -p ponte-bench --bin ponte --bin gateway_load
PONTE=$PWD/target/release/ponte
LOAD=$PWD/target/release/gateway_load
T=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT

port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TICKS=$(getconf CLK_TCK)
# user + system CPU time of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu() { awk '{print $14 + $15}' /proc/"$1"/stat; }
wait_port() { for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

run() { # $1 = label, $2 = "tsa" or ""
  local d=$T/$1; mkdir -p "$d/sink"
  local sp; sp=$(port)
  $PY tests/peers/smtp_sink.py --listen 127.0.0.1:"$sp" --dir "$d/sink" ${SINK_ARGS:---pipelining} > "$d/sink.out" 2>&1 & pids+=($!)
  local sink=$!
  wait_port "$sp"
  local tsa_table="" tsa_anchor=$PWD/tests/pki/root-ca.pem
  if [ "$2" = tsa ]; then
    local tp; tp=$(port)
    "$PONTE" tsa serve --listen 127.0.0.1:"$tp" --data "$d/tsa" > "$d/tsa.out" 2>/dev/null & pids+=($!)
    wait_port "$tp"
    tsa_table="[tsa]
url = \"http://127.0.0.1:$tp/\""
    tsa_anchor=$d/tsa/tsa.pem
  fi
  local gp op; gp=$(port); op=$(port)
  local k=$PWD/tests/pki
  cat > "$d/ponte.toml" <<EOF
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
[spool]
path = "spool"
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
  PONTE_LOG=warn "$PONTE" serve --config "$d/ponte.toml" > "$d/serve.out" 2> "$d/serve.err" & pids+=($!)
  local gw=$!
  wait_port "$gp"
  local g0 s0; g0=$(cpu "$gw"); s0=$(cpu "$sink")
  local perf_pid=""
  if [ -n "${PERF:-}" ]; then # PERF=DIR: a perf profile of the gateway per run, DIR/LABEL.data
    mkdir -p "$PERF"; perf record -F 999 -g -p "$gw" -o "$PERF/$1.data" 2>/dev/null & perf_pid=$!
  fi
  local line; line=$("$LOAD" --smtp 127.0.0.1:"$gp" --sink "$d/sink" --n "$N" --clients "$CLIENTS")
  local g1 s1; g1=$(cpu "$gw"); s1=$(cpu "$sink")
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  # CPU time per message (ms) of the gateway and of the sink: what the cores were spent on.
  echo "$1 $line gateway_cpu_ms=$(( (g1 - g0) * 1000 / TICKS / N )).$(( (g1 - g0) * 10000 / TICKS / N % 10 )) sink_cpu_ms=$(( (s1 - s0) * 1000 / TICKS / N )).$(( (s1 - s0) * 10000 / TICKS / N % 10 ))"
}

echo "# bench/gateway.sh N=$N clients=$CLIENTS on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
a=$(run no-tsa "")
b=$(run dev-tsa tsa)
echo "$a"
echo "$b"
python3 - "$a" "$b" <<'EOF'
import sys
rows = []
for line in sys.argv[1:]:
    label, *kv = line.split()
    d = dict(x.split("=", 1) for x in kv)
    rows.append((label, d))
print()
print("| run | msg/s accepted | msg/s end to end | p50 ms | p99 ms | ring RSA-2048 sign/s (1 core) | bound msg/s (2 cores, 2 signs each) | end to end ÷ bound | gateway CPU ms/msg | of which 2 signs | sink CPU ms/msg |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for label, d in rows:
    ring = float(d["ring_sign_per_s"])
    bound = ring  # 2 cores x (ring/2 messages per core-second)
    print(f"| {label} | {float(d['accepted_per_s']):.0f} | {float(d['end_to_end_per_s']):.0f} | {d['p50_ms']} | {d['p99_ms']} | {ring:.0f} | {bound:.0f} | {float(d['end_to_end_per_s'])/bound:.2f} | {d['gateway_cpu_ms']} | {2000/ring/float(d['gateway_cpu_ms']):.2f} | {d['sink_cpu_ms']} |")
EOF
