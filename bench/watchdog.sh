#!/usr/bin/env bash
# Benchmarks fwatchdog (issue 3) on this machine and appends the results to bench/RESULTS.md.
#
#   bench/watchdog.sh    # RUNS=5 DURATION=5 CPU_MS=5 BODY=1024 BASE_PORT=18100
#   CASES="pool1 pool2" APPEND=0 bench/watchdog.sh   # some cases only, results not recorded
#
# Compared in the same run, each case measured RUNS times in interleaved rounds (median kept):
#   1. fork mode running `cat` (classic and streaming) vs spawning `cat` directly with the same
#      body (examples/spawn_floor.rs: spawn, write stdin, read stdout, wait: the floor);
#   2. http mode vs calling the same upstream directly (examples/bench_upstream.rs);
#   3. http mode with a pool of 2 single-threaded CPU-bound workers (CPU_MS per call) vs 1.
# Load: wrk, POST of BODY bytes, concurrency 1 (-t1 -c1) and 32 (-t2 -c32), keep-alive.
set -euo pipefail

RUNS=${RUNS:-5}
DURATION=${DURATION:-5}
CPU_MS=${CPU_MS:-5}
BODY=${BODY:-1024}
BASE_PORT=${BASE_PORT:-18100}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

echo "building (release)..." >&2
cargo build --release -q -p watchdog --bin fwatchdog --example spawn_floor --example bench_upstream
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
fwatchdog="$target_dir/release/fwatchdog"
spawn_floor="$target_dir/release/examples/spawn_floor"
upstream="$target_dir/release/examples/bench_upstream"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = string.rep("a", $BODY)
wrk.headers["Content-Type"] = "text/plain"
LUA

# start_watchdog NAME PORT VAR=VALUE...: runs fwatchdog with the given environment.
start_watchdog() {
    local name=$1 port=$2
    shift 2
    env -i PATH="$PATH" port="$port" metrics_port=0 lock_path="$work/$name.lock" \
        write_timeout=60s NO_COLOR=1 "$@" "$fwatchdog" > "$work/$name.log" 2>&1 &
    pids+=($!)
}

wait_healthy() {
    local port=$1
    for _ in $(seq 1 200); do
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/_/health")" == 200 ]]; then
            return 0
        fi
        sleep 0.05
    done
    echo "watchdog on port $port did not become healthy" >&2
    exit 1
}

p=$BASE_PORT
classic=$p; streaming=$((p + 1)); http=$((p + 2)); pool1=$((p + 3)); pool2=$((p + 4))
up_http=$((p + 10)); up_pool1=$((p + 20)); up_pool2=$((p + 30))

start_watchdog classic "$classic" fprocess=cat
start_watchdog streaming "$streaming" mode=streaming fprocess=cat
start_watchdog http "$http" mode=http fprocess="$upstream" upstream_url="http://127.0.0.1:$up_http"
start_watchdog pool1 "$pool1" mode=http workers=1 fprocess="$upstream --cpu-ms $CPU_MS" \
    upstream_url="http://127.0.0.1:$up_pool1"
start_watchdog pool2 "$pool2" mode=http workers=2 fprocess="$upstream --cpu-ms $CPU_MS" \
    upstream_url="http://127.0.0.1:$up_pool2"
for port in "$classic" "$streaming" "$http" "$pool1" "$pool2"; do wait_healthy "$port"; done
# Both workers of the pool of 2 must be up, not just the first.
for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$((up_pool2 + 1))/" && break
    sleep 0.05
done

# to_us VALUE: wrk's "123.45us" / "1.23ms" / "1.01s" in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); print v + 0 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000000 }
        else print "nan" }'
}

# measure CASE CONCURRENCY: prints "rps p50_us p99_us".
measure() {
    local case=$1 c=$2 url threads=1 out
    [[ $c -gt 1 ]] && threads=2
    case $case in
        # The same environment as the watchdogs' children get (a big one slows every exec).
        floor) env -i PATH="$PATH" "$spawn_floor" --concurrency "$c" --seconds "$DURATION" \
                   --body-bytes "$BODY"; return ;;
        classic) url="http://127.0.0.1:$classic/" ;;
        streaming) url="http://127.0.0.1:$streaming/" ;;
        direct) url="http://127.0.0.1:$up_http/" ;;
        http) url="http://127.0.0.1:$http/" ;;
        pool1) url="http://127.0.0.1:$pool1/" ;;
        pool2) url="http://127.0.0.1:$pool2/" ;;
    esac
    out="$(wrk -t"$threads" -c"$c" -d"${DURATION}s" --latency -s "$work/post.lua" "$url")"
    if grep -q 'Non-2xx\|Socket errors' <<< "$out"; then
        echo "errors while measuring $case c=$c:" >&2
        grep 'Non-2xx\|Socket errors' <<< "$out" >&2
    fi
    local rps p50 p99
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<< "$out")"
    p50="$(to_us "$(awk '$1 == "50%" {print $2}' <<< "$out")")"
    p99="$(to_us "$(awk '$1 == "99%" {print $2}' <<< "$out")")"
    echo "$rps $p50 $p99"
}

read -r -a cases <<< "${CASES:-floor classic streaming direct http pool1 pool2}"
declare -A samples
for run in $(seq 1 "$RUNS"); do
    for c in 1 32; do
        for case in "${cases[@]}"; do
            echo "round $run/$RUNS: $case c=$c" >&2
            samples["$case,$c"]+="$(measure "$case" "$c")"$'\n'
        done
    done
done

# median COLUMN over the samples of CASE,C
median() {
    printf '%s' "${samples[$1]:-}" | awk -v col="$2" 'NF {print $col}' | sort -g |
        awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

describe() {
    case $1 in
        floor) echo "spawn \`cat\` directly (floor)" ;;
        classic) echo "fork mode, classic (\`fprocess=cat\`)" ;;
        streaming) echo "fork mode, streaming (\`cat\`)" ;;
        direct) echo "upstream called directly" ;;
        http) echo "http mode, 1 worker" ;;
        pool1) echo "http mode, CPU-bound ${CPU_MS} ms, 1 worker" ;;
        pool2) echo "http mode, CPU-bound ${CPU_MS} ms, pool of 2" ;;
    esac
}

table="| case | c | requests/s | p50 (µs) | p99 (µs) |"$'\n'"|---|---:|---:|---:|---:|"
for c in 1 32; do
    for case in "${cases[@]}"; do
        table+=$'\n'"| $(describe "$case") | $c | $(median "$case,$c" 1) | $(median "$case,$c" 2) | $(median "$case,$c" 3) |"
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() {
    if awk -v x="$1" -v limit="$2" -v op="$3" 'BEGIN { exit !(op == "le" ? x <= limit : x >= limit) }'; then
        echo met
    else
        echo "NOT met"
    fi
}
measured() { [[ -n "${samples[$1,1]:-}" ]]; }
targets=""
if measured floor && measured classic && measured streaming; then
    floor_p50=$(median floor,1 2)
    classic_ratio=$(ratio "$(median classic,1 2)" "$floor_p50")
    streaming_ratio=$(ratio "$(median streaming,1 2)" "$floor_p50")
    targets+="- fork mode p50 at c=1 vs raw spawn: classic ${classic_ratio}×, streaming ${streaming_ratio}× the floor (target ≤ 1.15×: classic $(verdict "$classic_ratio" 1.15 le), streaming $(verdict "$streaming_ratio" 1.15 le))"$'\n'
fi
if measured http && measured direct; then
    added=$(awk -v a="$(median http,1 2)" -v b="$(median direct,1 2)" 'BEGIN { printf "%.0f", a - b }')
    targets+="- http mode added p50 at c=1: ${added} µs (target ≤ 100 µs: $(verdict "$added" 100 le))"$'\n'
fi
if measured pool1 && measured pool2; then
    pool_ratio=$(ratio "$(median pool2,32 1)" "$(median pool1,32 1)")
    targets+="- pool of 2 vs 1 CPU-bound worker at c=32: ${pool_ratio}× the requests/s (target ≥ 1.7×: $(verdict "$pool_ratio" 1.7 ge))"$'\n'
fi
load="$(cut -d' ' -f1-3 /proc/loadavg)"

report="## fwatchdog (issue 3) — $(date -u '+%Y-%m-%d %H:%M UTC')

Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr);
load average at the end: $load (other work on the machine shares the cores).
Command: \`RUNS=$RUNS DURATION=$DURATION CPU_MS=$CPU_MS BODY=$BODY bench/watchdog.sh\` (release build;
wrk POST of $BODY bytes, keep-alive, -t1 -c1 and -t2 -c32, ${DURATION}s per measurement; every
case measured $RUNS times in interleaved rounds, medians shown; the floor is
\`examples/spawn_floor.rs\`, the upstream \`examples/bench_upstream.rs\`, one thread).

$table

$targets
"
echo "$report"
if [[ "${APPEND:-1}" == 1 ]]; then
    [[ -f "$root/bench/RESULTS.md" ]] || echo "# Benchmark results" > "$root/bench/RESULTS.md"
    printf '\n%s' "$report" >> "$root/bench/RESULTS.md"
fi
