#!/usr/bin/env bash
# Async queue: enqueue rate through faas_provider::queue::Publisher (what the gateway's
# /async-function does before answering 202), and end-to-end completions/s of the real
# queue-worker binary against a no-op function, for several max_inflight values.
# A fresh nats-server -js (file storage) in a temporary directory; release builds.
#
# Usage: bench/queue.sh [runs] [messages]   (default 3 runs, 20000 messages; medians reported)
# Env:   INFLIGHT="1 10 100"
# Needs: nats-server (Debian package nats-server); builds target/release/queue-worker and
#        target/release/examples/queue_bench.
set -euo pipefail

runs="${1:-3}"
messages="${2:-20000}"
inflight="${INFLIGHT:-1 10 100}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
nats_pid=""

cleanup() {
    [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

nats_server="$(command -v nats-server || echo /usr/sbin/nats-server)"
[ -x "$nats_server" ] || { echo "nats-server is not installed: apt-get install nats-server"; exit 1; }

(cd "$root" && cargo build --release -q -p queue-worker --bin queue-worker --example queue_bench)

"$nats_server" -js -a 127.0.0.1 -p -1 -sd "$work/store" --ports_file_dir "$work" >"$work/nats.log" 2>&1 &
nats_pid=$!
ports="$work/nats-server_${nats_pid}.ports"
for _ in $(seq 200); do [ -s "$ports" ] && break; sleep 0.05; done
[ -s "$ports" ] || { echo "nats-server did not start"; cat "$work/nats.log"; exit 1; }
url="$(sed -E 's/.*"(nats:\/\/[^"]+)".*/\1/' "$ports")"

echo "# $(date -u +%FT%TZ) $(nproc) cores, nats-server $("$nats_server" --version | awk '{print $2}'), $runs runs, $messages messages"
# shellcheck disable=SC2086
"$root/target/release/examples/queue_bench" "$url" "$root/target/release/queue-worker" "$messages" "$runs" $inflight
