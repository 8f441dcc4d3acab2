#!/bin/bash
# Healthy when daprd's /v1.0/healthz answers 204 (no curl in the image: bash's /dev/tcp).
set -euo pipefail
exec 3<>"/dev/tcp/127.0.0.1/${DAPR_HTTP_PORT:-3500}"
printf 'GET /v1.0/healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS=' ' read -r _ code _ <&3
[[ "$code" == "204" ]]
