#!/usr/bin/env bash
# Ponte's translation figures next to their hardware bound, all measured in one sitting:
#
#   1. `openssl speed rsa2048 sha256` (the machine's reference);
#   2. ring's own RSA-2048 sign and verify and SHA-256 rates (criterion, `benches/ring.rs`);
#   3. Ponte's translations through the library (criterion, `benches/translate.rs`), one thread
#      (so one core at a time): PEC → REM and REM → PEC of 10 KB, 1 MB and 25 MB envelopes, and the
#      evidence alone (XAdES-B-B sign, verify with trust);
#   4. the peak RSS of the release `ponte translate` (one process, `/usr/bin/time -v`) on a
#      25 MB and a 100 MB envelope, PEC → REM, and REM → PEC of that output;
#
# and prints one table: each figure, its bound, the ratio, the issue-12 goal.
#
# Clock: CPU time. `openssl speed` divides by its user CPU time; the criterion benches measure
# the CPU time of their process (`ponte_bench::CpuTime`), so the ratios hold on a machine
# shared with other work (the load average is printed: heavy load still costs some speed
# through shared caches). Figures are criterion medians.
#
# Bounds (the work that cannot be avoided, at the rates measured above):
#   PEC → REM: 2 ring RSA-2048 signatures (evidence XAdES, message S/MIME) + 3 SHA-256 passes
#              over the envelope (the input's signed content, the prepared original's digest,
#              the output's signed content) at openssl's 16 KiB-block SHA-256 rate;
#   REM → PEC: 1 ring signature (the PEC envelope) + 2 ring verifications (the message's
#              S/MIME, the evidence's XAdES) + the same 3 SHA-256 passes;
#   evidence sign: ring's RSA-2048 sign rate; evidence verify: 10,000/s (the issue's goal);
#   peak RSS: 2 × the input at 25 MB (in memory), 64 MiB at 100 MB (streaming).
#
# Usage: bench/report.sh            Env: MEASURE=s (criterion measurement seconds, default 3),
#        CORE=n (pin openssl and the benches to core n with taskset; default: not pinned),
#        KEEP=1 (keep the work folder), SKIP_100MB=1 (no 100 MB case).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PKI=$REPO/tests/pki
MEASURE=${MEASURE:-3}
CORE=${CORE:-}

for tool in openssl /usr/bin/time python3 cargo; do
    command -v "$tool" >/dev/null || { echo "report.sh: $tool is required" >&2; exit 2; }
done
PIN=()
if [ -n "$CORE" ]; then PIN=(taskset -c "$CORE"); fi

target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$REPO/Cargo.toml" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
PONTE=$target_dir/release/ponte

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ponte-report.XXXXXX")
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then echo "work folder kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "== building (release ponte, benches)" >&2
cargo build --release -q -p ponte --bin ponte --manifest-path "$REPO/Cargo.toml"
# The bench executables, built once; then run directly, pinned (cargo itself is not pinned).
bench_exe() {
    cargo bench -q -p ponte-bench --bench "$1" --no-run --message-format json \
        --manifest-path "$REPO/Cargo.toml" 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["bench"]:
        print(m["executable"])' | tail -n1
}
RING_EXE=$(bench_exe ring)
TRANSLATE_EXE=$(bench_exe translate)
[ -x "$RING_EXE" ] && [ -x "$TRANSLATE_EXE" ] || { echo "report.sh: bench executables not built" >&2; exit 2; }
# criterion's results of this sitting only.
export CRITERION_HOME=$WORK/criterion
CRIT=$CRITERION_HOME

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)

echo "== openssl speed -seconds 3 rsa2048 sha256" >&2
"${PIN[@]}" openssl speed -seconds 3 rsa2048 sha256 >"$WORK/openssl.txt" 2>/dev/null
# "rsa 2048 bits 0.000249s 0.000018s   4023.1  55384.6" (sign/s, verify/s);
# "sha256  117209.88k ... 1792409.60k" (1000s of bytes per second; the last: 16 KiB blocks).
OSSL_SIGN=$(awk '/^rsa *2048 bits/ {print $(NF-1)}' "$WORK/openssl.txt" | tail -n1)
OSSL_VERIFY=$(awk '/^rsa *2048 bits/ {print $NF}' "$WORK/openssl.txt" | tail -n1)
OSSL_SHA=$(awk '/^sha256 / {v=$NF; sub(/k$/, "", v); print v * 1000}' "$WORK/openssl.txt" | tail -n1)
[ -n "$OSSL_SIGN" ] && [ -n "$OSSL_SHA" ] || { echo "report.sh: cannot read openssl speed" >&2; cat "$WORK/openssl.txt" >&2; exit 2; }

CRIT_ARGS=(--bench --warm-up-time 1 --measurement-time "$MEASURE" --noplot)
echo "== ring primitives (criterion)" >&2
"${PIN[@]}" "$RING_EXE" "${CRIT_ARGS[@]}" '^ring/' >"$WORK/ring.txt" 2>&1
echo "== translations (criterion, one core)" >&2
"${PIN[@]}" "$TRANSLATE_EXE" "${CRIT_ARGS[@]}" '^translate/to_(rem|pec)/|^evidence/' \
    >"$WORK/translate.txt" 2>&1 || { cat "$WORK/translate.txt" >&2; exit 1; }

# ---- peak memory through the CLI
# A user's CRLF message of about $2 bytes (a text part and a base64 attachment) into $1.
original() {
    python3 - "$1" "$2" <<'EOF'
import sys
path, size = sys.argv[1], int(sys.argv[2])
head = (
    "From: Mario Rossi <mario.rossi@pec.prova.test>\r\n"
    "To: anna@r2-rems-only-for-test.it\r\n"
    "Subject: Contratto di prova\r\n"
    "Message-ID: <report-%d@pec.prova.test>\r\n"
    "Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nBuongiorno, in allegato il contratto.\r\n"
    "--b\r\nContent-Type: application/octet-stream; name=\"contratto.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n" % size
).encode()
line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
body = max(0, size - len(head) - 7)
with open(path, "wb") as f:
    f.write(head)
    n = -(-body // len(line))
    chunk = line * 10000
    while n >= 10000:
        f.write(chunk)
        n -= 10000
    f.write(line * n + b"--b--\r\n")
EOF
}
cat >"$WORK/ponte.toml" <<EOF
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
tsa_anchors = ["$PKI/tsa.pem"]

[policy]
applicable = ["http://uri.etsi.org/19532/v1#/REMbaseline", "https://eidas.agid.gov.it/REM/rem-policy-it"]

[correlation]
path = "$WORK/correlation.jsonl"
EOF
# Peak RSS (KiB) of one command; its output must exist afterwards.
peak() {
    local out=$1
    shift
    /usr/bin/time -v "$@" 2>"$WORK/time.txt" >/dev/null || { cat "$WORK/time.txt" >&2; exit 1; }
    [ -s "$out" ] || { echo "report.sh: no output $out" >&2; exit 1; }
    awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt"
}
SIZES="25MB:26214400"
[ "${SKIP_100MB:-0}" = 1 ] || SIZES="$SIZES 100MB:104857600"
declare -A RSS IN
for s in $SIZES; do
    label=${s%%:*} size=${s#*:}
    echo "== peak memory, $label" >&2
    # The envelope adds ~7.7 KB to the original.
    original "$WORK/orig-$label.eml" $((size - 7800))
    "$PONTE" pec wrap "$WORK/orig-$label.eml" --key "$PKI/pec-rsa.key.pem" --cert "$PKI/pec-rsa.pem" \
        --chain "$PKI/provider-ca.pem" --provider "Gestore Prova S.p.A." -o "$WORK/env-$label.eml"
    rm -f "$WORK/orig-$label.eml"
    IN[rem-$label]=$(stat -c %s "$WORK/env-$label.eml")
    RSS[rem-$label]=$(peak "$WORK/rem-$label.eml" "$PONTE" translate "$WORK/env-$label.eml" --to rem \
        --config "$WORK/ponte.toml" -o "$WORK/rem-$label.eml" --jobs 1)
    IN[pec-$label]=$(stat -c %s "$WORK/rem-$label.eml")
    RSS[pec-$label]=$(peak "$WORK/pec-$label.eml" "$PONTE" translate "$WORK/rem-$label.eml" --to pec \
        --config "$WORK/ponte.toml" -o "$WORK/pec-$label.eml" --jobs 1)
    rm -f "$WORK/env-$label.eml" "$WORK/rem-$label.eml" "$WORK/pec-$label.eml"
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
DIRTY=$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | head -c1 || true)

rss_args=()
for s in $SIZES; do
    label=${s%%:*}
    rss_args+=("$label" "${IN[rem-$label]}" "${RSS[rem-$label]}" "${IN[pec-$label]}" "${RSS[pec-$label]}")
done
python3 - "$CRIT" "$OSSL_SIGN" "$OSSL_VERIFY" "$OSSL_SHA" "$LOAD_BEFORE" "$LOAD_AFTER" \
    "$(nproc)" "$CORE" "$START" "$COMMIT${DIRTY:+ (modified)}" "$MEASURE" "${rss_args[@]}" <<'EOF'
import json, os, sys
crit, ossl_sign, ossl_verify, ossl_sha = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
load_before, load_after, cores, core, start, commit, measure = sys.argv[5:12]
rss = sys.argv[12:]

def est(path):
    """Median time of one iteration (seconds) of a criterion benchmark."""
    p = os.path.join(crit, path, "new", "estimates.json")
    with open(p) as f:
        return json.load(f)["median"]["point_estimate"] / 1e9

def size(path):
    """The input size of a translation benchmark (its Bytes throughput)."""
    p = os.path.join(crit, path, "new", "benchmark.json")
    with open(p) as f:
        return json.load(f)["throughput"]["Bytes"]

ring_sign = 1 / est("ring/rsa2048_sign")
ring_verify = 1 / est("ring/rsa2048_verify")
ring_sha = (1 << 20) / est("ring/sha256_1MiB")
MB = 1e6
MiB = 1 << 20

rows = []
def row(figure, value, unit, bound, bound_text, goal):
    ratio = value / bound if bound else None
    rows.append((figure, value, unit, bound, bound_text, ratio, goal))

def fmt(v, unit):
    if unit == "/s":
        return f"{v:,.1f}/s" if v < 100 else f"{v:,.0f}/s"
    if unit == "MB/s":
        return f"{v / MB:,.0f} MB/s"
    if unit == "MiB":
        return f"{v / MiB:,.1f} MiB"
    return f"{v}"

row("openssl RSA-2048 sign", ossl_sign, "/s", None, "", "")
row("openssl RSA-2048 verify", ossl_verify, "/s", None, "", "")
row("openssl SHA-256, 16 KiB blocks", ossl_sha, "MB/s", None, "", "")
row("ring RSA-2048 sign", ring_sign, "/s", ossl_sign, "openssl sign", "")
row("ring RSA-2048 verify", ring_verify, "/s", ossl_verify, "openssl verify", "")
row("ring SHA-256, 1 MiB", ring_sha, "MB/s", ossl_sha, "openssl SHA-256", "")
for way, title, signs, verifies in [("to_rem", "PEC → REM", 2, 0), ("to_pec", "REM → PEC", 1, 2)]:
    for label, goal in [("10KB", "≥ 0.8"), ("1MB", "≥ 0.5"), ("25MB", "")]:
        path = f"translate/{way}/{label}"
        try:
            t, n = est(path), size(path)
        except OSError:
            continue
        bound_t = signs / ring_sign + verifies / ring_verify + 3 * n / ossl_sha
        parts = [f"{signs} sign{'s' if signs > 1 else ''}"]
        if verifies:
            parts.append(f"{verifies} verifies")
        parts.append(f"3 SHA × {n / MiB:.2f} MiB" if n >= MiB else f"3 SHA × {n / 1024:.1f} KiB")
        row(f"{title}, {label}", 1 / t, "/s", 1 / bound_t, " + ".join(parts), goal)
for name, title, bound, btext, goal in [
    ("sign", "evidence sign (XAdES-B-B)", ring_sign, "ring sign", "≥ 0.9"),
    ("verify", "evidence verify (XAdES, with trust)", 10000.0, "the goal: 10,000/s", "≥ 1"),
]:
    try:
        row(title, 1 / est(f"evidence/{name}"), "/s", bound, btext, goal)
    except OSError:
        pass
rss_rows = []
for i in range(0, len(rss), 5):
    label, in_rem, rss_rem, in_pec, rss_pec = rss[i:i + 5]
    for title, n, kib in [("PEC → REM", in_rem, rss_rem), ("REM → PEC", in_pec, rss_pec)]:
        n, peak = int(n), int(kib) * 1024
        if label == "25MB":
            bound, btext, goal = 2 * n, f"2 × input ({n / MiB:.1f} MiB)", "≤ 1"
        else:
            bound, btext, goal = 64 * MiB, f"64 MiB (input {n / MiB:.1f} MiB)", "< 1"
        rss_rows.append((f"peak RSS, {title}, {label}", peak, "MiB", bound, btext, peak / bound, goal))

pinned = f"pinned to core {core}" if core else "not pinned"
print(f"bench/report.sh at {commit}, {start}; {cores} cores ({pinned}); load average before "
      f"{load_before}, after {load_after}; CPU time; criterion medians of {measure} s")
print()
print("| figure | measured | bound | bound is | ratio | goal |")
print("| --- | ---: | ---: | --- | ---: | --- |")
for figure, value, unit, bound, btext, ratio, goal in rows + rss_rows:
    b = fmt(bound, unit) if bound else ""
    r = f"{ratio:.2f}" if ratio is not None else ""
    print(f"| {figure} | {fmt(value, unit)} | {b} | {btext} | {r} | {goal} |")
EOF
