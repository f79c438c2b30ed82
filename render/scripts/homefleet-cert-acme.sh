#!/bin/bash
# Issues (lego run) or renews (lego renew --days RENEW_DAYS) the certificate NAME for DOMAIN from
# the ACME CA at ACME_SERVER, answering the HTTP-01 challenge with lego's own server on
# ${HOMEFLEET_ACME_HTTP_LISTEN:-:80}. DOMAIN may be a comma-separated list (all names go into
# the certificate, the first names lego's files); when the list differs from the names in the
# current certificate, the certificate is issued anew rather than renewed. lego's state (account, certificates) lives in
# ${HOMEFLEET_ACME_STATE_DIR:-/var/lib/homefleet/acme}/NAME. When lego's certificate differs
# from the installed one (new, renewed, or an earlier install that did not finish), it is copied
# to CERT_DIR/NAME.crt (full chain) and CERT_DIR/NAME.key (0600; 0640 when CERT_DIR has a group)
# and RELOAD_UNIT is reloaded ("-": none). Not restarted: a reload keeps connections up.
# CA_BUNDLE: PEM file of the roots that sign the ACME server's own TLS certificate
# (LEGO_CA_CERTIFICATES), for a private CA such as step-ca's ACME provisioner.
# renew runs with --no-random-sleep: jitter is the timer's RandomizedDelaySec.
# Writes homefleet_certificate_renewal_NAME.prom on every run (status 0 on any failure).
# HOMEFLEET_RELOAD_COMMAND is a test hook: see render/scripts/certificates.ts.
# Usage: homefleet-cert-acme NAME DOMAIN[,DOMAIN...] ACME_SERVER EMAIL CERT_DIR RELOAD_UNIT RENEW_DAYS [CA_BUNDLE]
set -euo pipefail

if [ "$#" -lt 7 ] || [ "$#" -gt 8 ]; then
  echo "usage: $0 NAME DOMAIN ACME_SERVER EMAIL CERT_DIR RELOAD_UNIT RENEW_DAYS [CA_BUNDLE]" >&2
  exit 2
fi
name=$1
domain_list=$2
server=$3
email=$4
cert_dir=$5
reload_unit=$6
renew_days=$7
ca_bundle=${8:-}
# shellcheck source=lib/cert-common.sh
. "${BASH_SOURCE%/*}/lib/cert-common.sh"

work=
# record_renewal STATUS: the exit trap; any non-zero exit records a failed renewal.
record_renewal() {
  local rc=$1 ok=0
  if [ "$rc" -eq 0 ]; then ok=1; fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
  write_prom "homefleet_certificate_renewal_$name.prom" <<EOF
# HELP homefleet_certificate_last_renewal_status 1 if the last renewal run of the certificate succeeded, 0 if it failed.
# TYPE homefleet_certificate_last_renewal_status gauge
homefleet_certificate_last_renewal_status{certificate="$name"} $ok
# HELP homefleet_certificate_last_renewal_timestamp_seconds Unix time the last renewal run of the certificate ended.
# TYPE homefleet_certificate_last_renewal_timestamp_seconds gauge
homefleet_certificate_last_renewal_timestamp_seconds{certificate="$name"} $(date +%s)
EOF
  if [ "$rc" -ne 0 ]; then echo "renewal of certificate $name failed (exit $rc)" >&2; fi
}

fingerprint() {
  if [ -s "$1" ]; then
    openssl x509 -noout -fingerprint -sha256 -in "$1"
  else
    echo none
  fi
}

# install_certificate CERT KEY: copies a certificate (chain) and its key into
# CERT_DIR/NAME.crt (0644) and CERT_DIR/NAME.key, each by rename of a temp file in CERT_DIR,
# after checking that they belong together. The key is 0600, or 0640 when CERT_DIR belongs to
# a group other than root: homefleet then makes CERT_DIR setgid (2750), so the new files take
# its group without a chown (the unit's system call filter allows none) and the service of
# that group (PostgreSQL, nginx) can read its key. A marker records that the consuming unit
# has not yet been reloaded, so a failed reload is retried by the next run.
install_certificate() {
  local tmp key_mode=0600
  if [ "$(openssl x509 -noout -pubkey -in "$1")" != "$(openssl pkey -pubout -in "$2")" ]; then
    echo "key $2 does not belong to certificate $1" >&2
    return 1
  fi
  mkdir -p "$cert_dir"
  if [ "$(stat -c %g "$cert_dir")" != 0 ]; then key_mode=0640; fi
  if [ "$reload_unit" != "-" ]; then touch "$reload_pending"; fi
  tmp=$(mktemp "$cert_dir/.$name.key.XXXXXX")
  cat "$2" >"$tmp"
  chmod "$key_mode" "$tmp"
  mv -f "$tmp" "$cert_dir/$name.key"
  tmp=$(mktemp "$cert_dir/.$name.crt.XXXXXX")
  cat "$1" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$cert_dir/$name.crt"
  echo "installed $cert_dir/$name.crt ($(openssl x509 -noout -serial -enddate -in "$cert_dir/$name.crt" | tr '\n' ' '))"
}

# Reload, never restart: the consumer keeps its connections and rereads its certificate. A unit
# that is not running reads the new files when it starts, so it is not started here.
reload_consumer() {
  if [ "$reload_unit" = "-" ] || [ ! -e "$reload_pending" ]; then return 0; fi
  if [ -n "${HOMEFLEET_RELOAD_COMMAND:-}" ]; then
    "$HOMEFLEET_RELOAD_COMMAND" "$reload_unit"
  elif systemctl is-active --quiet "$reload_unit"; then
    systemctl reload "$reload_unit"
  else
    echo "$reload_unit is not active; it reads the new certificate when it starts"
  fi
  rm -f "$reload_pending"
  echo "reloaded $reload_unit"
}

check_reload_unit() {
  local unit_re='^[A-Za-z0-9:_.@-]+$'
  if [ "$1" != "-" ] && ! [[ $1 =~ $unit_re ]]; then
    echo "RELOAD_UNIT must be a unit name or -: $1" >&2
    return 2
  fi
}

check_absolute() {
  if [[ $2 != /* ]]; then
    echo "$1 must be an absolute path: $2" >&2
    return 2
  fi
}

check_name "$name"
trap 'record_renewal "$?"' EXIT

domain_re='^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(,[a-z0-9]([a-z0-9.-]*[a-z0-9])?)*$'
if ! [[ $domain_list =~ $domain_re ]]; then
  echo "DOMAIN must be lowercase DNS names, comma-separated (HTTP-01 allows no wildcard): $domain_list" >&2
  exit 2
fi
IFS=, read -r -a domains <<<"$domain_list"
domain=${domains[0]}
if [[ $server != https://* ]]; then
  echo "ACME_SERVER must be an https:// directory URL: $server" >&2
  exit 2
fi
email_re='^[^[:space:]@]+@[^[:space:]@]+$'
if ! [[ $email =~ $email_re ]]; then
  echo "EMAIL must be an email address: $email" >&2
  exit 2
fi
check_absolute CERT_DIR "$cert_dir"
check_reload_unit "$reload_unit"
if ! [[ $renew_days =~ ^[1-9][0-9]*$ ]]; then
  echo "RENEW_DAYS must be a positive integer: $renew_days" >&2
  exit 2
fi
if [ -n "$ca_bundle" ]; then
  if [ ! -r "$ca_bundle" ]; then
    echo "CA_BUNDLE $ca_bundle is not readable" >&2
    exit 2
  fi
  export LEGO_CA_CERTIFICATES=$ca_bundle
fi
listen=${HOMEFLEET_ACME_HTTP_LISTEN:-:80}
listen_re='^[A-Za-z0-9.:-]*:[0-9]+$|^\[[0-9A-Fa-f:.]+\]:[0-9]+$'
if ! [[ $listen =~ $listen_re ]]; then
  echo "HOMEFLEET_ACME_HTTP_LISTEN must be [ADDRESS]:PORT: $listen" >&2
  exit 2
fi

state_dir=${HOMEFLEET_ACME_STATE_DIR:-/var/lib/homefleet/acme}/$name
check_absolute HOMEFLEET_ACME_STATE_DIR "$state_dir"
lego_cert=$state_dir/certificates/$domain.crt
lego_key=$state_dir/certificates/$domain.key
reload_pending=$cert_dir/.$name.reload-pending
mkdir -p "$state_dir"
chmod 0700 "$state_dir"

lego_args=(--accept-tos --server "$server" --email "$email" --path "$state_dir" --http --http.port "$listen")
for d in "${domains[@]}"; do lego_args+=(--domains "$d"); done

# cert_domains FILE: the certificate's DNS names, sorted and comma-separated.
cert_domains() {
  openssl x509 -noout -ext subjectAltName -in "$1" | tail -n +2 | tr -d ' ' | tr ',' '\n' |
    sed -n 's/^DNS://p' | sort -u | paste -sd, -
}
wanted=$(printf '%s\n' "${domains[@]}" | sort -u | paste -sd, -)

before=$(fingerprint "$lego_cert")
if [ "$before" = none ]; then
  lego "${lego_args[@]}" run
elif [ "$(cert_domains "$lego_cert")" != "$wanted" ]; then
  echo "certificate names changed from $(cert_domains "$lego_cert") to $wanted: issuing anew"
  lego "${lego_args[@]}" run
else
  lego "${lego_args[@]}" renew --days "$renew_days" --no-random-sleep
fi
after=$(fingerprint "$lego_cert")
if [ "$after" = none ]; then
  echo "lego left no certificate at $lego_cert" >&2
  exit 1
fi

if [ "$before" = none ]; then
  echo "issued a new certificate for $domain_list"
elif [ "$before" != "$after" ]; then
  echo "renewed the certificate for $domain_list"
else
  echo "certificate for $domain_list is not due for renewal"
fi
if [ "$after" != "$(fingerprint "$cert_dir/$name.crt")" ] || [ ! -s "$cert_dir/$name.key" ]; then
  install_certificate "$lego_cert" "$lego_key"
fi
reload_consumer
