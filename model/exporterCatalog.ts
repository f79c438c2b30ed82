/**
 * The packaged exporters homefleet runs on request (`homefleet:hosts.<host>.exporters`): the port
 * each listens on (nixpkgs' default for its exporter module, which the Debian package shares), and
 * which flavours package it. nixpkgs: services.prometheus.exporters.<name> (nixos/modules/services/
 * monitoring/prometheus/exporters.nix lists them). Debian bookworm: package prometheus-<name>-exporter,
 * whose unit reads its flags from ARGS in /etc/default/prometheus-<name>-exporter.
 */
import type { PackagedExporter } from "../config/schema";

export interface PackagedExporterSpec {
  readonly port: number;
  /** The Debian bookworm package, when Debian has one. */
  readonly debian?: string;
  /** What the exporter needs from the host that homefleet does not set up, for the docs and the review. */
  readonly needs: string;
}

export const EXPORTER_CATALOG: Readonly<Record<PackagedExporter, PackagedExporterSpec>> = {
  // nginx's stub_status: nixpkgs serves it with services.nginx.statusPage (homefleet sets it on NixOS).
  nginx: { port: 9113, debian: "prometheus-nginx-exporter", needs: "nginx serving stub_status at http://127.0.0.1/nginx_status" },
  // Debian's build (0.3) has no journal reader: it reads /var/log/mail.log, which rsyslog writes,
  // and exits when that file is missing. On NixOS homefleet has it read the journal.
  postfix: { port: 9154, debian: "prometheus-postfix-exporter", needs: "Postfix's showq socket; on Debian /var/log/mail.log (rsyslog)" },
  bind: { port: 9119, debian: "prometheus-bind-exporter", needs: "BIND's statistics channel on http://127.0.0.1:8053/" },
  dovecot: { port: 9166, needs: "Dovecot's stats socket (old_stats plugin)" },
  zfs: { port: 9134, needs: "the ZFS kernel module and its pools" },
  "php-fpm": { port: 9253, needs: "the pools' status pages (pm.status_path)" },
  smartctl: { port: 9633, needs: "smartctl access to the disks" },
};

/** The unit of a packaged exporter: nixpkgs and Debian name them alike. */
export function packagedExporterUnit(name: string): string {
  return `prometheus-${name}-exporter.service`;
}

export function isPackagedExporter(kind: string): kind is PackagedExporter {
  return Object.prototype.hasOwnProperty.call(EXPORTER_CATALOG, kind);
}
