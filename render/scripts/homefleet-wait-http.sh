#!/bin/bash
# Waits until URL answers with a 2xx status, for at most TIMEOUT seconds, polling every
# INTERVAL seconds. Runs as ExecStartPost, so the unit only becomes active once the service
# is healthy and a deployment can gate on unit state (a health check with a generous timeout).
# Usage: homefleet-wait-http URL TIMEOUT INTERVAL
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $0 URL TIMEOUT INTERVAL" >&2
  exit 2
fi
url=$1
timeout=$2
interval=$3
deadline=$((SECONDS + timeout))

until curl --silent --show-error --fail --output /dev/null --max-time 10 "$url"; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "no healthy answer from $url within ${timeout}s" >&2
    exit 1
  fi
  sleep "$interval"
done
echo "healthy: $url"
