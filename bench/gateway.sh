#!/usr/bin/env bash
# Gateway overhead: the same upstream (a tiny actix server answering "hello") called directly and
# through the gateway (`/function/hello`), p50/p99 latency and requests/s at several concurrencies.
# Release builds; the in-memory provider serves the function's endpoint over the provider API.
#
# Usage: bench/gateway.sh [runs] [seconds]     (default 10 runs of 3 s per point, the two targets
#        alternating run by run so load from elsewhere hits both alike; medians reported)
# Env:   CONCURRENCY="1 16 64"
#        UPSTREAM_WORK_US=0   CPU microseconds the upstream spins per call (0: answers at once)
# Needs: wrk, curl; builds target/release/gateway and target/release/examples/bench_backend.
set -euo pipefail

runs="${1:-10}"
seconds="${2:-3}"
concurrency="${CONCURRENCY:-1 16 64}"
work_us="${UPSTREAM_WORK_US:-0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

(cd "$root" && cargo build --release -q -p gateway --bin gateway --example bench_backend)

provider_port="$(free_port)"; upstream_port="$(free_port)"; gateway_port="$(free_port)"; metrics_port="$(free_port)"
"$root/target/release/examples/bench_backend" "$provider_port" "$upstream_port" "$work_us" >"$work/backend.log" 2>&1 &
pids+=($!)
env -i PATH="$PATH" RUST_LOG=warn \
    functions_provider_url="http://127.0.0.1:$provider_port/" port="$gateway_port" metrics_port="$metrics_port" \
    faas_prometheus_host=127.0.0.1 \
    "$root/target/release/gateway" >"$work/gateway.log" 2>&1 &
pids+=($!)

direct="http://127.0.0.1:$upstream_port/"
gateway="http://127.0.0.1:$gateway_port/function/hello"
for url in "$direct" "$gateway"; do
    for _ in $(seq 100); do curl -fs "$url" >/dev/null && break; sleep 0.1; done
    curl -fs "$url" >/dev/null || { echo "$url does not answer"; cat "$work"/*.log; exit 1; }
done

# wrk --latency output -> "p50_us p99_us rps"
parse() {
    awk '
        function us(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v + 0 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000000 }
            return v + 0
        }
        $1 == "50%" { p50 = us($2) }
        $1 == "99%" { p99 = us($2) }
        $1 == "Requests/sec:" { rps = $2 }
        END { printf "%.1f %.1f %.0f\n", p50, p99, rps }
    '
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

measure() { # url connections -> "p50 p99 rps"
    wrk -t1 -c"$2" -d"${seconds}s" --latency "$1" | parse
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $runs runs x ${seconds}s per point, wrk -t1, medians, upstream work ${work_us} us"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %-8s %10s %10s %10s\n' c target p50_us p99_us req_s
for c in $concurrency; do
    # Warm both paths (pools, endpoint cache) before measuring.
    wrk -t1 -c"$c" -d2s "$direct" >/dev/null
    wrk -t1 -c"$c" -d2s "$gateway" >/dev/null
    : >"$work/direct"; : >"$work/gateway"
    for _ in $(seq "$runs"); do
        # Alternate so drift on a shared machine hits both sides alike.
        measure "$direct" "$c" >>"$work/direct"
        measure "$gateway" "$c" >>"$work/gateway"
    done
    for target in direct gateway; do
        p50="$(cut -d' ' -f1 "$work/$target" | median)"
        p99="$(cut -d' ' -f2 "$work/$target" | median)"
        rps="$(cut -d' ' -f3 "$work/$target" | median)"
        printf '%-4s %-8s %10s %10s %10s\n' "$c" "$target" "$p50" "$p99" "$rps"
    done
    # Paired: each gateway run against the direct run just before it.
    added="$(paste -d' ' "$work/direct" "$work/gateway" | awk '{ print $4 - $1 }' | median)"
    ratio="$(paste -d' ' "$work/direct" "$work/gateway" | awk '{ print 100 * $6 / $3 }' | median)"
    echo "$c $added $ratio" >>"$work/paired"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
while read -r c added ratio; do
    printf 'c=%s: added p50 %.1f us, throughput %.0f%% of direct (medians of paired runs)\n' "$c" "$added" "$ratio"
done <"$work/paired"
