#!/usr/bin/env bash
# PEC → REM translations per second from outside (the release `ponte` binary, as an operator
# runs it), for signed transport envelopes of about 10 KB and 1 MB, with and without a
# time-stamping authority; peak memory (maximum resident set size) of one 25 MB translation,
# PEC → REM and REM → PEC of its output; `openssl speed rsa2048` in the same run, for scale.
#
# Usage: bench/translate.sh [N_10KB [N_1MB]]     (defaults: 1000 and 100 copies)
# Env:   PONTE_BENCH_KEEP=1 keeps the work folder; JOBS=n sets `--jobs` (default: cores);
#        REPEAT=n runs each timed case n times and keeps the fastest (default 3).
#
# Everything runs on this machine: the envelopes are made with `ponte pec wrap` from the test
# PKI (`pec-rsa`, listed by the embedded index), the TSA is `ponte tsa serve` on loopback.
# Each timed run is one `ponte translate --to rem --out-dir` over N copies, so process start,
# configuration and index loading are included once per run (amortised over N).
set -euo pipefail

N_SMALL=${1:-1000}
N_LARGE=${2:-100}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PKI=$REPO/tests/pki
JOBS=${JOBS:-$(nproc)}
REPEAT=${REPEAT:-3}

for tool in openssl /usr/bin/time python3; do
    command -v "$tool" >/dev/null || { echo "translate.sh: $tool is required" >&2; exit 2; }
done

echo "== building release ponte" >&2
cargo build --release -q -p ponte --bin ponte --manifest-path "$REPO/Cargo.toml"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$REPO/Cargo.toml" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
PONTE=$target_dir/release/ponte

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ponte-bench.XXXXXX")
TSA_PID=
cleanup() {
    if [ -n "$TSA_PID" ]; then kill "$TSA_PID" 2>/dev/null || true; wait "$TSA_PID" 2>/dev/null || true; fi
    if [ "${PONTE_BENCH_KEEP:-0}" = 1 ]; then echo "work folder kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# A user's CRLF message of about $2 bytes (a text part and a base64 attachment) into $1.
original() {
    python3 - "$1" "$2" <<'EOF'
import sys
path, size = sys.argv[1], int(sys.argv[2])
head = (
    "From: Mario Rossi <mario.rossi@pec.prova.test>\r\n"
    "To: anna@r2-rems-only-for-test.it\r\n"
    "Subject: Contratto di prova\r\n"
    "Message-ID: <bench-%d@pec.prova.test>\r\n"
    "Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nBuongiorno, in allegato il contratto.\r\n"
    "--b\r\nContent-Type: application/octet-stream; name=\"contratto.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n" % size
).encode()
line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
# size 0: the head alone (to measure what the envelope adds).
body = max(0, size - len(head) - 7)
with open(path, "wb") as f:
    f.write(head + line * -(-body // len(line)) + b"--b--\r\n")
EOF
}

wrap() {
    "$PONTE" pec wrap "$1" --key "$PKI/pec-rsa.key.pem" --cert "$PKI/pec-rsa.pem" \
        --chain "$PKI/provider-ca.pem" --provider "Gestore Prova S.p.A." -o "$2"
}

echo "== making envelopes in $WORK" >&2
# What the envelope adds to the original (text part, daticert.xml, signature with two
# certificates: about 7.7 KB), so that the envelopes, not the originals, have the named sizes.
original "$WORK/orig-probe.eml" 0
wrap "$WORK/orig-probe.eml" "$WORK/env-probe.eml"
ADDED=$(($(stat -c %s "$WORK/env-probe.eml") - $(stat -c %s "$WORK/orig-probe.eml")))
for s in 10KB:10240 1MB:1048576 25MB:26214400; do
    label=${s%%:*} size=${s#*:}
    original "$WORK/orig-$label.eml" $((size - ADDED))
    wrap "$WORK/orig-$label.eml" "$WORK/env-$label.eml"
done

# ponte.toml in $1, with [tsa] url=$2 and anchor $3 when given. No [index]: embedded snapshot.
config() {
    local dir=$1 url=${2:-} anchor=${3:-$PKI/tsa.pem}
    mkdir -p "$dir"
    cat >"$dir/ponte.toml" <<EOF
[identity]
provider_name = "Gestore Prova S.p.A."
domain = "pec.prova.test"
pec_key = "$PKI/pec-rsa.key.pem"
pec_cert = "$PKI/pec-rsa.pem"
pec_chain = ["$PKI/provider-ca.pem"]
rem_key = "$PKI/rem-rsa.key.pem"
rem_cert = "$PKI/rem-rsa.pem"
rem_chain = ["$PKI/provider-ca.pem"]

[trust]
pec_anchors = ["$PKI/root-ca.pem"]
rem_anchors = ["$PKI/root-ca.pem"]
tsa_anchors = ["$anchor"]

[policy]
applicable = ["http://uri.etsi.org/19532/v1#/REMbaseline", "https://eidas.agid.gov.it/REM/rem-policy-it"]

[correlation]
path = "correlation.jsonl"
EOF
    if [ -n "$url" ]; then printf '\n[tsa]\nurl = "%s"\n' "$url" >>"$dir/ponte.toml"; fi
}

echo "== starting the development TSA on loopback" >&2
mkfifo "$WORK/tsa.out"
"$PONTE" tsa serve --listen 127.0.0.1:0 --data "$WORK/tsa-data" >"$WORK/tsa.out" 2>"$WORK/tsa.log" &
TSA_PID=$!
exec 3<"$WORK/tsa.out"
read -r -t 10 tsa_line <&3 || { echo "translate.sh: the TSA did not start: $(cat "$WORK/tsa.log")" >&2; exit 2; }
# Keep draining its standard output so it never blocks on a full pipe.
cat <&3 >/dev/null &
TSA_URL=$(grep -o 'http://[^ ]*' <<<"$tsa_line" | head -n1)
[ -n "$TSA_URL" ] || { echo "translate.sh: no URL in: $tsa_line" >&2; exit 2; }

config "$WORK/plain"
config "$WORK/tsa" "$TSA_URL" "$WORK/tsa-data/tsa.pem"

# Translates N copies of env-$1 with config $2; prints "wall-seconds translations/s cpu-seconds"
# of the fastest of $REPEAT runs.
rate() {
    local label=$1 conf=$2 n=$3 in=$WORK/in-$1-$2 out=$WORK/out-$1-$2
    rm -rf "$in" "$out"; mkdir -p "$in"
    for i in $(seq 1 "$n"); do ln "$WORK/env-$label.eml" "$in/m$i.eml"; done
    # One untimed warm-up (page cache), which also checks the evidence level: B-B exactly
    # when no [tsa] is configured (the translation says so in its notes).
    "$PONTE" translate "$WORK/env-$label.eml" --to rem --config "$WORK/$conf/ponte.toml" \
        --json -o "$WORK/warm-$label-$conf.eml" >"$WORK/warm-$label-$conf.json"
    if grep -q 'XAdES-B-B' "$WORK/warm-$label-$conf.json"; then level=B-B; else level=B-T; fi
    case "$conf:$level" in
        plain:B-B | tsa:B-T) ;;
        *) echo "translate.sh: $label/$conf: evidence $level" >&2; exit 1 ;;
    esac
    # Best of $REPEAT runs (the cores and the disk are shared: the best run is the one
    # least disturbed); the CPU time is that run's.
    : >"$WORK/rates.txt"
    for _ in $(seq 1 "$REPEAT"); do
        rm -rf "$out"
        /usr/bin/time -f '%e %U %S' -o "$WORK/rate.txt" \
            "$PONTE" translate "$in"/*.eml --to rem --config "$WORK/$conf/ponte.toml" \
            --out-dir "$out" --jobs "$JOBS" >/dev/null
        local made
        made=$(find "$out" -name '*.eml' | wc -l)
        [ "$made" -eq "$n" ] || { echo "translate.sh: $label/$conf: $made outputs for $n inputs" >&2; exit 1; }
        cat "$WORK/rate.txt" >>"$WORK/rates.txt"
    done
    sort -n "$WORK/rates.txt" | head -n1 |
        awk -v n="$n" '{printf "%.2f %.1f %.2f\n", $1, n / $1, $2 + $3}'
}

# Peak RSS (KiB) of one ponte command.
peak() {
    /usr/bin/time -v "$@" 2>"$WORK/time.txt" >/dev/null || { cat "$WORK/time.txt" >&2; exit 1; }
    awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== openssl speed -seconds 3 rsa2048" >&2
openssl speed -seconds 3 rsa2048 >"$WORK/openssl.txt" 2>/dev/null
# The summary line: "rsa 2048 bits 0.000650s 0.000019s 1538.5 52631.6" (sign/s, verify/s).
RSA_SIGN=$(awk '/^rsa *2048 bits/ {print $(NF-1)}' "$WORK/openssl.txt" | tail -n1)
RSA_VERIFY=$(awk '/^rsa *2048 bits/ {print $NF}' "$WORK/openssl.txt" | tail -n1)
[ -n "$RSA_SIGN" ] || { echo "translate.sh: cannot read openssl speed output" >&2; cat "$WORK/openssl.txt" >&2; exit 2; }

echo "== translations (jobs $JOBS)" >&2
declare -A R
for case in "10KB plain $N_SMALL" "10KB tsa $N_SMALL" "1MB plain $N_LARGE" "1MB tsa $N_LARGE"; do
    set -- $case
    R[$1-$2]=$(rate "$1" "$2" "$3")
    echo "   $1 $2: ${R[$1-$2]}" >&2
done

echo "== peak memory, 25 MB" >&2
RSS_REM=$(peak "$PONTE" translate "$WORK/env-25MB.eml" --to rem --config "$WORK/plain/ponte.toml" \
    -o "$WORK/big.rem.eml" --jobs 1)
RSS_PEC=$(peak "$PONTE" translate "$WORK/big.rem.eml" --to pec --config "$WORK/plain/ponte.toml" \
    -o "$WORK/big.pec.eml" --jobs 1)

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

size() { stat -c %s "$1"; }
python3 - "$LOAD_BEFORE" "$LOAD_AFTER" "$(nproc)" "$REPEAT" "$RSA_SIGN" "$RSA_VERIFY" "$JOBS" "$N_SMALL" "$N_LARGE" \
    "$(size "$WORK/env-10KB.eml")" "$(size "$WORK/env-1MB.eml")" "$(size "$WORK/env-25MB.eml")" \
    "$(size "$WORK/big.rem.eml")" "$(size "$WORK/big.pec.eml")" "$RSS_REM" "$RSS_PEC" \
    "${R[10KB-plain]}" "${R[10KB-tsa]}" "${R[1MB-plain]}" "${R[1MB-tsa]}" <<'EOF'
import sys
load_before, load_after, cores, repeat = sys.argv[1:5]
a = sys.argv[5:]
sign, verify, jobs, ns, nl = float(a[0]), float(a[1]), a[2], a[3], a[4]
e10, e1m, e25, rem25, pec25 = (int(x) for x in a[5:10])
rss_rem, rss_pec = int(a[10]) * 1024, int(a[11]) * 1024
rates = [r.split() for r in a[12:16]]
mb = 1024 * 1024
print(f"{cores} cores; load average before {load_before}, after {load_after} (others' work shares the cores)")
print(f"openssl speed rsa2048 (same run): {sign:.1f} sign/s, {verify:.1f} verify/s")
print(f"ponte translate --to rem, --jobs {jobs}, from outside (process start included once per run; fastest of {repeat} runs)")
print()
print("| envelope | evidence | copies | wall s | CPU s | CPU ms each | translations/s | ÷ rsa2048 sign/s |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
rows = [(f"10 KB ({e10} B)", "B-B, no [tsa]", ns), (f"10 KB ({e10} B)", "B-T, dev TSA", ns),
        (f"1 MB ({e1m} B)", "B-B, no [tsa]", nl), (f"1 MB ({e1m} B)", "B-T, dev TSA", nl)]
for (env, ev, n), (secs, per, cpu) in zip(rows, rates):
    print(f"| {env} | {ev} | {n} | {float(secs):.2f} | {float(cpu):.2f} | {1000*float(cpu)/int(n):.1f} | {float(per):.1f} | {float(per)/sign:.3f} |")
print()
print("CPU s: user + system of the ponte process (not the TSA's).")
print()
print("| 25 MB translation | input | output | peak RSS | peak ÷ input |")
print("| --- | ---: | ---: | ---: | ---: |")
print(f"| PEC → REM | {e25/mb:.1f} MiB | {rem25/mb:.1f} MiB | {rss_rem/mb:.0f} MiB | {rss_rem/e25:.1f}× |")
print(f"| REM → PEC (of that output) | {rem25/mb:.1f} MiB | {pec25/mb:.1f} MiB | {rss_pec/mb:.0f} MiB | {rss_pec/rem25:.1f}× |")
EOF
