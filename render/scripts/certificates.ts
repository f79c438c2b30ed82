/**
 * Certificate scripts: issuance and renewal with lego from an ACME CA (a public one, or a private
 * step-ca through its ACME provisioner), and a daily check that exports expiry metrics.
 * Like every homefleet script they take each value as an argument (or a systemd credential, or a
 * documented environment variable), never by text substitution into the script. Each is a file,
 * `render/scripts/<name>.sh`; the part they share (name validation, atomic textfile writes) is
 * `render/scripts/lib/cert-common.sh`, included at load (./files.ts).
 *
 * Metrics contract (alert rules depend on it; node-exporter textfile collector):
 *
 *   ${HOMEFLEET_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}/
 *     homefleet_certificate_<NAME>.prom          written by homefleet-cert-check
 *       homefleet_certificate_expiry_timestamp_seconds{certificate="<NAME>",issuer="<acme|step-ca>"} <notAfter, unix>
 *     homefleet_certificate_renewal_<NAME>.prom  written by homefleet-cert-acme, on every run
 *       homefleet_certificate_last_renewal_status{certificate="<NAME>"} <1 success | 0 failure>
 *       homefleet_certificate_last_renewal_timestamp_seconds{certificate="<NAME>"} <unix time the run ended>
 *
 * Files are written to a dot-named temp file in the same directory (the collector reads only
 * `*.prom`) and renamed, so the collector never sees half a file. NAME must match
 * `^[a-z0-9_-]+$` and may not start with `renewal_` (its expiry file would be another
 * certificate's renewal file); it is then safe as a label value and a file name.
 *
 * Environment, all optional:
 *   HOMEFLEET_TEXTFILE_DIR      textfile collector directory (above).
 *   HOMEFLEET_ACME_STATE_DIR    lego's state (account key, issued certificates), per NAME below
 *                               it; default /var/lib/homefleet/acme.
 *   HOMEFLEET_ACME_HTTP_LISTEN  where lego's own HTTP-01 challenge server listens
 *                               (`lego --http.port`, `[ADDRESS]:PORT`); default `:80`. The CA
 *                               connects to DOMAIN on port 80, so anything else needs a
 *                               forward from :80 (e.g. the reverse proxy) or a test CA.
 *   HOMEFLEET_RELOAD_COMMAND    TEST HOOK, never set by rendered units: an executable run as
 *                               `$HOMEFLEET_RELOAD_COMMAND RELOAD_UNIT` instead of
 *                               `systemctl reload RELOAD_UNIT`, for machines without a running
 *                               systemd (the test suite).
 */
import { hostScriptText } from "./files";
import type { ScriptSpec } from "./index";

export const certAcmeScript: ScriptSpec = {
  name: "homefleet-cert-acme",
  nixRuntimeInputs: ["lego", "openssl", "coreutils", "gnused", "systemd"],
  text: hostScriptText("homefleet-cert-acme.sh"),
};

export const certCheckScript: ScriptSpec = {
  name: "homefleet-cert-check",
  nixRuntimeInputs: ["openssl", "coreutils"],
  text: hostScriptText("homefleet-cert-check.sh"),
};

export const CERTIFICATE_SCRIPTS: readonly ScriptSpec[] = [certAcmeScript, certCheckScript];
