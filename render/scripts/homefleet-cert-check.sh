#!/bin/bash
# Daily validation of an installed certificate: exports its notAfter as
# homefleet_certificate_expiry_timestamp_seconds{certificate="NAME",issuer="JOB"} into
# ${HOMEFLEET_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}/homefleet_certificate_NAME.prom
# (temp file + rename), for the CertificateExpiringSoon/CertificateExpired alerts.
# JOB is the issuer label: acme or step-ca. Exits 1 when CERT_FILE is unreadable (the metric
# file is left as it was) or the certificate has expired (the metric is still written).
# Usage: homefleet-cert-check NAME CERT_FILE JOB
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $0 NAME CERT_FILE JOB" >&2
  exit 2
fi
name=$1
cert_file=$2
job=$3
# shellcheck source=lib/cert-common.sh
. "${BASH_SOURCE%/*}/lib/cert-common.sh"

check_name "$name"
if [ "$job" != acme ] && [ "$job" != step-ca ]; then
  echo "JOB must be acme or step-ca: $job" >&2
  exit 2
fi

if ! not_after=$(openssl x509 -noout -enddate -in "$cert_file"); then
  echo "cannot read a certificate from $cert_file" >&2
  exit 1
fi
not_after=${not_after#notAfter=}
expiry=$(date -u -d "$not_after" +%s)

write_prom "homefleet_certificate_$name.prom" <<EOF
# HELP homefleet_certificate_expiry_timestamp_seconds Unix time the certificate expires (notAfter).
# TYPE homefleet_certificate_expiry_timestamp_seconds gauge
homefleet_certificate_expiry_timestamp_seconds{certificate="$name",issuer="$job"} $expiry
EOF
echo "certificate $name ($cert_file) expires $not_after ($expiry)"

if ! openssl x509 -noout -checkend 0 -in "$cert_file" >/dev/null; then
  echo "certificate $name ($cert_file) has expired" >&2
  exit 1
fi
