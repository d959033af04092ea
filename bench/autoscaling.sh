#!/usr/bin/env bash
# Measures autoscaling (issue 7) on this machine and appends the results to bench/RESULTS.md.
#
#   bench/autoscaling.sh          # RUNS=3
#
# Runs the alert-scaler's end-to-end tests (real prometheus and prometheus-alertmanager, the
# shipped deploy/ files rendered with test addresses, the in-memory provider over HTTP, a
# gateway metrics endpoint driven by the test) RUNS times each with two sets of intervals,
# interleaved:
#   short:   scrape 1s, evaluation 1s, group_wait 1s, group_interval 2s, reconcile 500ms,
#            zero-duration 4s (what CI runs);
#   shipped: deploy/ as shipped (scrape 5s, evaluation 5s, group_wait 5s, group_interval 10s,
#            repeat_interval 30s), the alert-scaler's default reconcile_interval 30s,
#            zero-duration 30s.
# Measured (medians):
#   load_to_scale_up:  from the start of 20 calls/s on a function to its replicas rising 1 -> 5
#                      (the in-memory provider's replicas are ready at once: add the backend's
#                      start time for real containers);
#   last_call_to_min:  from the end of the load to the resolved alert bringing it back to 1;
#   last_call_to_zero: from a function's last call to 0 replicas (scale to zero);
#   woken_to_zero:     from a scale-up without calls to 0 replicas again.
set -euo pipefail

RUNS=${RUNS:-3}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v prometheus >/dev/null || { echo "prometheus is needed (apt-get install prometheus)" >&2; exit 1; }
command -v prometheus-alertmanager >/dev/null || { echo "prometheus-alertmanager is needed" >&2; exit 1; }

cmd=(cargo test -q -p alert-scaler --test api -- --nocapture --test-threads=2 alertmanager:: idler::)
echo "building..." >&2
cargo test -q -p alert-scaler --test api --no-run >&2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for run in $(seq 1 "$RUNS"); do
    for mode in short shipped; do
        echo "run $run/$RUNS: $mode intervals" >&2
        AUTOSCALING_INTERVALS=$mode "${cmd[@]}" > "$work/out" 2>&1 || {
            tail -n 60 "$work/out" >&2
            echo "the tests failed (run $run, $mode)" >&2
            exit 1
        }
        grep '^AUTOSCALING' "$work/out" | sed "s/^/$mode /" >> "$work/samples"
    done
done

python3 - "$work/samples" "$RUNS" "AUTOSCALING_INTERVALS=<short|shipped> ${cmd[*]}" >> bench/RESULTS.md <<'PY'
import re, statistics, sys, datetime, platform, os
path, runs, command = sys.argv[1], sys.argv[2], sys.argv[3]
samples, intervals = {}, {}
for line in open(path):
    mode, _, kind, rest = line.split(" ", 3)
    intervals[mode] = re.search(r'intervals="([^"]*)"', rest).group(1)
    for key, value in re.findall(r'(\w+)_s=([0-9.]+)', rest):
        samples.setdefault((mode, key), []).append(float(value))
cpu = "unknown CPU"
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    pass
print()
print("## Autoscaling")
print()
print(f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}.")
print(f"Command: `bench/autoscaling.sh` (RUNS={runs}), i.e. `{command}`, both modes interleaved.")
print("Real prometheus 2.42 and prometheus-alertmanager 0.25 running the shipped `deploy/` rule and route;")
print("the provider is in memory (replicas ready at once), the gateway's metrics endpoint is driven by the test.")
print()
print("| Seconds (median of runs, all runs in brackets) | short intervals | shipped intervals |")
print("|---|---|---|")
labels = [
    ("load_to_scale_up", "start of load (20 calls/s) -> replicas 1 -> 5"),
    ("last_call_to_min", "end of load -> resolved, back to 1"),
    ("last_call_to_zero", "last call -> 0 replicas (scale to zero)"),
    ("woken_to_zero", "scaled up without calls -> 0 again"),
]
for key, label in labels:
    cells = []
    for mode in ("short", "shipped"):
        v = samples.get((mode, key), [])
        cells.append(f"{statistics.median(v):.1f} [{', '.join(f'{x:.1f}' for x in v)}]" if v else "-")
    print(f"| {label} | {cells[0]} | {cells[1]} |")
print()
for mode in ("short", "shipped"):
    print(f"- {mode}: {intervals.get(mode, '?')}.")
PY
echo "appended to bench/RESULTS.md" >&2
