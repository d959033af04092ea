#!/usr/bin/env bash
# The request body arrives on stdin; what this prints is the response body.
set -euo pipefail

body=$(cat)
printf 'Hello from bash (%s %s): %s\n' "${Http_Method:-?}" "${Http_Path:-/}" "$body"
