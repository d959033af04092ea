#!/bin/sh
# The request body is the number of seconds (a decimal such as 0.5 works too).
set -eu
read -r seconds || true
seconds=${seconds:-1}
case "$seconds" in
*[!0-9.]* | "" | *.*.*)
    echo "not a number of seconds: $seconds" >&2
    exit 1
    ;;
esac
sleep "$seconds"
echo "slept ${seconds}s"
