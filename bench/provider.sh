#!/usr/bin/env bash
# Provider benchmark: deploy-to-ready and scale 0 -> 1 ready times, p50 of N runs, for each
# backend this engine can run (swarm needs the engine to be a swarm manager).
#
# Usage: bench/provider.sh [runs]        (default 10)
# Env:   BACKENDS="swarm containers"     which backends to measure
#        FUNCTION=watchdog|httpd         function image: the static fwatchdog running `cat`
#                                        (default when it builds), or busybox httpd
# Needs: docker, curl, jq, busybox-static; builds target/release/provider-swarm.
# "Ready" is what the gateway waits for: GET /system/function/<name> reporting
# availableReplicas >= 1 (containers: running and answering /_/health; swarm: task running).
set -euo pipefail

runs="${1:-10}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backends="${BACKENDS:-swarm containers}"
id="bench-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
work="$(mktemp -d)"
pid=""

cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    docker service ls -q --filter "label=com.ironfaas.function-network" --filter "name=$id" | xargs -r docker service rm >/dev/null 2>&1 || true
    docker ps -aq --filter "name=$id" | xargs -r docker rm -f >/dev/null 2>&1 || true
    for net in "$id-swarm" "$id-containers"; do
        for _ in $(seq 50); do docker network rm "$net" >/dev/null 2>&1 && break; docker network inspect "$net" >/dev/null 2>&1 || break; sleep 0.2; done
    done
    docker rmi -f "$id-fn:1" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && cargo build --release -q -p provider-swarm)
provider="$root/target/release/provider-swarm"

# The function image: FROM scratch, busybox, and the watchdog (or httpd) on :8080.
mkdir -p "$work/ctx/bin" "$work/ctx/tmp" "$work/ctx/www/_"
cp /bin/busybox "$work/ctx/bin/busybox"
for applet in sh cat httpd; do ln -s /bin/busybox "$work/ctx/bin/$applet"; done
echo OK > "$work/ctx/www/_/health"
function="${FUNCTION:-}"
if [[ "$function" != httpd ]] && watchdog="$("$root/scripts/build-static" fwatchdog 2>"$work/watchdog-build.log" | tail -1)" && [[ -x "$watchdog" ]]; then
    function=watchdog
    cp "$watchdog" "$work/ctx/fwatchdog"
    printf 'FROM scratch\nCOPY . /\nENV fprocess=cat\nCMD ["/fwatchdog"]\n' > "$work/ctx/Dockerfile"
else
    [[ "$function" == watchdog ]] && { echo "fwatchdog does not build:"; cat "$work/watchdog-build.log"; exit 1; }
    function=httpd
    printf 'FROM scratch\nCOPY . /\nCMD ["/bin/httpd","-f","-p","8080","-h","/www"]\n' > "$work/ctx/Dockerfile"
fi
chmod 1777 "$work/ctx/tmp"
docker build -q -t "$id-fn:1" "$work/ctx" >/dev/null

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
available() { curl -s "$base/system/function/$1" | jq -r '.availableReplicas // 0'; }
wait_available() { # name want -> waits until availableReplicas == want (bounded)
    local deadline=$(( $(now) + 120000000000 ))
    until [[ "$(available "$1")" == "$2" ]]; do
        (( $(now) < deadline )) || { echo "timeout waiting for $1 to have $2 ready" >&2; exit 1; }
    done
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, engine $(docker version -f '{{.Server.Version}}'), function image: $function, runs: $runs"
for backend in $backends; do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    base="http://127.0.0.1:$port"
    port="$port" backend="$backend" function_network="$id-$backend" data_dir="$work/data" \
        "$provider" >"$work/provider-$backend.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
    curl -sf "$base/healthz" >/dev/null || { cat "$work/provider-$backend.log"; exit 1; }
    deploys=(); scales=()
    for i in $(seq "$runs"); do
        name="$id-$backend-$i"
        t0=$(now)
        curl -sf -X POST "$base/system/functions" -d "{\"service\":\"$name\",\"image\":\"$id-fn:1\"}" >/dev/null
        wait_available "$name" 1
        t1=$(now)
        deploys+=("$(ms "$t0" "$t1")")
        curl -sf -X POST "$base/system/scale-function/$name" -d '{"replicas":0}' >/dev/null
        wait_available "$name" 0
        # Let the stopped replica go away before timing the cold start.
        until [[ "$(curl -s "$base/system/endpoints/$name" | jq '.endpoints | length')" == 0 ]]; do :; done
        sleep 1
        t0=$(now)
        curl -sf -X POST "$base/system/scale-function/$name" -d '{"replicas":1}' >/dev/null
        wait_available "$name" 1
        t1=$(now)
        scales+=("$(ms "$t0" "$t1")")
        curl -sf -X DELETE "$base/system/functions" -d "{\"functionName\":\"$name\"}" >/dev/null
    done
    echo "$backend deploy-to-ready ms:   ${deploys[*]}  p50=$(printf '%s\n' "${deploys[@]}" | median)"
    echo "$backend scale 0->1 ready ms:  ${scales[*]}  p50=$(printf '%s\n' "${scales[@]}" | median)"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
