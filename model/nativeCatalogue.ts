/**
 * The services homefleet runs natively (`homefleet:stacks.<s>.native.service`): on NixOS a
 * nixpkgs module (`services.<name>`), on a plain systemd host a Debian package, where Debian
 * packages it. Each entry holds the facts homefleet needs to apply its ordering, backups,
 * monitoring and review to a unit it does not write itself. Every fact names where it was read:
 * the nixpkgs module source (nixpkgs 25.05/25.11) or the Debian bookworm package.
 */

/** A unit of the service; `start: false` for a oneshot another unit (a timer) starts. */
export interface NativeUnit {
  readonly name: string;
  readonly start: boolean;
  /** NixOS: the module's boolean option (below its path) that turns this unit off when false, e.g. ["nmbd", "enable"]. */
  readonly enabledBy?: readonly string[];
}

/** How the service reaches its database on the host's PostgreSQL. */
export type NativeDatabaseAccess =
  /**
   * Over 127.0.0.1 with scram-sha-256 and the role's password, which the unit receives as the
   * systemd credential `database-password` (LoadCredential): readable by the service's own user
   * at /run/credentials/<unit>/database-password, never in the Nix store.
   */
  | { readonly via: "password"; readonly options: (db: NativeDatabaseTarget) => Record<string, unknown> }
  /**
   * Over PostgreSQL's Unix socket by peer authentication: the service's system user is the role
   * (no password anywhere). The role must be named as the service's user.
   */
  | { readonly via: "peer"; readonly options: (db: NativeDatabaseTarget) => Record<string, unknown>; readonly packageFunctions?: Readonly<Record<string, readonly string[]>> };

export interface NativeDatabaseTarget {
  readonly name: string;
  readonly user: string;
  readonly port: number;
  /** Where the unit reads the password credential (via: password). */
  readonly passwordCredential: string;
}

export interface NativeCatalogueEntry {
  /** What users call it, for messages and the review. */
  readonly title: string;
  readonly nixos: {
    /** Option path of the module, e.g. ["services", "grafana"]. */
    readonly module: readonly string[];
    /** Where the facts below were read. */
    readonly source: string;
    readonly units: readonly NativeUnit[];
    /** The system user the service runs as (a DynamicUser's name where the module uses one). */
    readonly user: string;
    /** Its state, archived nightly by default. */
    readonly dataDirs: readonly string[];
    /** Option path (below the module) of the listening port, when the module has one. */
    readonly portOption?: readonly string[];
    /** Option path of the listening address, when the module has one. */
    readonly addressOption?: readonly string[];
    /** Option path of one `ADDRESS:PORT` string, when the module takes both in one (VictoriaMetrics). */
    readonly listenOption?: readonly string[];
    /** Where it listens when no address option exists (or before homefleet sets one). */
    readonly defaultAddress: string;
  };
  /** Debian bookworm's package, when Debian packages the service. */
  readonly debian?: {
    readonly package: string;
    readonly units: readonly NativeUnit[];
    readonly dataDirs: readonly string[];
    readonly defaultAddress: string;
  };
  /** Why a Debian host cannot run it (when `debian` is absent). */
  readonly notOnDebian?: string;
  /** The service's main port, when it has one. */
  readonly port?: { readonly number: number; readonly protocol: "tcp" | "udp" };
  /** An HTTP path that answers 2xx when healthy, on the main port, if the service serves one over plain HTTP. */
  readonly healthPath?: string;
  /** The port speaks HTTPS only (or no HTTP at all): homefleet's plain-HTTP probe cannot check it. */
  readonly noHttpProbe?: string;
  readonly database?: NativeDatabaseAccess;
}

const svc = (name: string, start = true): NativeUnit => ({ name, start });

export const NATIVE_CATALOGUE: Readonly<Record<string, NativeCatalogueEntry>> = {
  grafana: {
    title: "Grafana",
    nixos: {
      module: ["services", "grafana"],
      // settings.server.http_port (default 3000), settings.server.http_addr (default 127.0.0.1),
      // dataDir /var/lib/grafana, user grafana.
      source: "nixos/modules/services/monitoring/grafana.nix",
      units: [svc("grafana.service")],
      user: "grafana",
      dataDirs: ["/var/lib/grafana"],
      portOption: ["settings", "server", "http_port"],
      addressOption: ["settings", "server", "http_addr"],
      defaultAddress: "127.0.0.1",
    },
    notOnDebian: "Debian bookworm does not package Grafana (only Grafana's own apt repository does)",
    port: { number: 3000, protocol: "tcp" },
    healthPath: "/api/health",
    database: {
      via: "password",
      // grafana.ini reads a value from a file with $__file{...}: the password stays out of the store.
      options: (db) => ({ settings: { database: { type: "postgres", host: `127.0.0.1:${db.port}`, name: db.name, user: db.user, password: `$__file{${db.passwordCredential}}` } } }),
    },
  },
  "home-assistant": {
    title: "Home Assistant",
    nixos: {
      module: ["services", "home-assistant"],
      // configDir default /var/lib/hass; config.http.server_port default 8123, config.http.server_host
      // default [ "0.0.0.0" "::" ]; extraPackages (python3Packages: [...]) for psycopg2.
      source: "nixos/modules/services/home-automation/home-assistant.nix",
      units: [svc("home-assistant.service")],
      user: "hass",
      dataDirs: ["/var/lib/hass"],
      portOption: ["config", "http", "server_port"],
      addressOption: ["config", "http", "server_host"],
      defaultAddress: "0.0.0.0",
    },
    notOnDebian: "Debian bookworm does not package Home Assistant",
    port: { number: 8123, protocol: "tcp" },
    healthPath: "/manifest.json",
    database: {
      via: "peer",
      // The recorder over the socket as the hass user: `postgresql://@/<db>`, psycopg2 added to the package.
      options: (db) => ({ config: { recorder: { db_url: db.port === 5432 ? `postgresql://@/${db.name}` : `postgresql://@/${db.name}?port=${db.port}` } } }),
      packageFunctions: { extraPackages: ["psycopg2"] },
    },
  },
  jellyfin: {
    title: "Jellyfin",
    nixos: {
      module: ["services", "jellyfin"],
      // dataDir /var/lib/jellyfin (StateDirectory), cacheDir /var/cache/jellyfin, user jellyfin;
      // the HTTP port 8096 is Jellyfin's own setting (network.xml), not a module option.
      source: "nixos/modules/services/misc/jellyfin.nix",
      units: [svc("jellyfin.service")],
      user: "jellyfin",
      dataDirs: ["/var/lib/jellyfin"],
      defaultAddress: "0.0.0.0",
    },
    notOnDebian: "Debian bookworm does not package Jellyfin (only Jellyfin's own apt repository does)",
    port: { number: 8096, protocol: "tcp" },
    healthPath: "/health",
  },
  "node-red": {
    title: "Node-RED",
    nixos: {
      module: ["services", "node-red"],
      // port (default 1880), userDir (default /var/lib/node-red), user node-red; no address option.
      source: "nixos/modules/services/misc/node-red.nix",
      units: [svc("node-red.service")],
      user: "node-red",
      dataDirs: ["/var/lib/node-red"],
      portOption: ["port"],
      defaultAddress: "0.0.0.0",
    },
    notOnDebian: "Debian bookworm does not package Node-RED",
    port: { number: 1880, protocol: "tcp" },
    healthPath: "/",
  },
  glance: {
    title: "Glance",
    nixos: {
      module: ["services", "glance"],
      // settings.server.port (default 8080), settings.server.host (default 127.0.0.1); DynamicUser
      // with StateDirectory glance.
      source: "nixos/modules/services/web-apps/glance.nix",
      units: [svc("glance.service")],
      user: "glance",
      dataDirs: [],
      portOption: ["settings", "server", "port"],
      addressOption: ["settings", "server", "host"],
      defaultAddress: "127.0.0.1",
    },
    notOnDebian: "Debian bookworm does not package this Glance (its `glance` package is OpenStack's image service)",
    port: { number: 8080, protocol: "tcp" },
    healthPath: "/",
  },
  "technitium-dns-server": {
    title: "Technitium DNS Server",
    nixos: {
      module: ["services", "technitium-dns-server"],
      // DynamicUser with StateDirectory technitium-dns-server; web console on 5380, DNS on 53.
      source: "nixos/modules/services/networking/technitium-dns-server.nix",
      units: [svc("technitium-dns-server.service")],
      user: "technitium-dns-server",
      dataDirs: ["/var/lib/private/technitium-dns-server"],
      defaultAddress: "0.0.0.0",
    },
    notOnDebian: "Debian bookworm does not package Technitium DNS Server",
    port: { number: 5380, protocol: "tcp" },
    healthPath: "/",
  },
  "step-ca": {
    title: "step-ca",
    nixos: {
      module: ["services", "step-ca"],
      // address and port (required, no default), settings (ca.json), intermediatePasswordFile;
      // DynamicUser with StateDirectory step-ca. It serves HTTPS only: the gate checks the unit.
      source: "nixos/modules/services/security/step-ca.nix",
      units: [svc("step-ca.service")],
      user: "step-ca",
      dataDirs: ["/var/lib/private/step-ca"],
      portOption: ["port"],
      addressOption: ["address"],
      defaultAddress: "127.0.0.1",
    },
    notOnDebian: "Debian bookworm does not package step-ca",
    port: { number: 8443, protocol: "tcp" },
    noHttpProbe: "step-ca serves HTTPS only",
  },
  pgadmin: {
    title: "pgAdmin",
    nixos: {
      module: ["services", "pgadmin"],
      // port (default 5050), initialEmail and initialPasswordFile (required); DynamicUser with
      // StateDirectory pgadmin. pgAdmin itself listens on 127.0.0.1 unless settings.DEFAULT_SERVER says otherwise.
      source: "nixos/modules/services/admin/pgadmin.nix",
      units: [svc("pgadmin.service")],
      user: "pgadmin",
      dataDirs: ["/var/lib/private/pgadmin"],
      portOption: ["port"],
      defaultAddress: "127.0.0.1",
    },
    notOnDebian: "Debian bookworm does not package pgAdmin 4",
    port: { number: 5050, protocol: "tcp" },
    healthPath: "/misc/ping",
  },
  loki: {
    title: "Loki",
    nixos: {
      module: ["services", "loki"],
      // configuration (Loki's own, as JSON) or configFile; dataDir default /var/lib/loki, user loki.
      // Loki's HTTP port is configuration.server.http_listen_port (Loki's default 3100).
      source: "nixos/modules/services/monitoring/loki.nix",
      units: [svc("loki.service")],
      user: "loki",
      dataDirs: ["/var/lib/loki"],
      portOption: ["configuration", "server", "http_listen_port"],
      addressOption: ["configuration", "server", "http_listen_address"],
      defaultAddress: "0.0.0.0",
    },
    notOnDebian: "Debian bookworm does not package Loki",
    port: { number: 3100, protocol: "tcp" },
    healthPath: "/ready",
  },
  promtail: {
    title: "Promtail",
    nixos: {
      module: ["services", "promtail"],
      // configuration (required, Promtail's own); positions in /var/cache/promtail (CacheDirectory).
      source: "nixos/modules/services/logging/promtail.nix",
      units: [svc("promtail.service")],
      user: "promtail",
      dataDirs: [],
      portOption: ["configuration", "server", "http_listen_port"],
      addressOption: ["configuration", "server", "http_listen_address"],
      defaultAddress: "0.0.0.0",
    },
    notOnDebian: "Debian bookworm does not package Promtail",
    port: { number: 9080, protocol: "tcp" },
    healthPath: "/ready",
  },
  victoriametrics: {
    title: "VictoriaMetrics",
    nixos: {
      module: ["services", "victoriametrics"],
      // listenAddress (default ":8428", address and port in one), stateDir below /var/lib with
      // DynamicUser (so /var/lib/private/victoriametrics).
      source: "nixos/modules/services/databases/victoriametrics.nix",
      units: [svc("victoriametrics.service")],
      user: "victoriametrics",
      dataDirs: ["/var/lib/private/victoriametrics"],
      listenOption: ["listenAddress"],
      defaultAddress: "0.0.0.0",
    },
    notOnDebian: "Debian bookworm does not package VictoriaMetrics",
    port: { number: 8428, protocol: "tcp" },
    healthPath: "/health",
  },
  postfix: {
    title: "Postfix",
    nixos: {
      module: ["services", "postfix"],
      // systemd.services.postfix; its queue is transient mail state, not archived by default.
      source: "nixos/modules/services/mail/postfix.nix",
      units: [svc("postfix.service")],
      user: "postfix",
      dataDirs: [],
      defaultAddress: "0.0.0.0",
    },
    debian: { package: "postfix", units: [svc("postfix.service")], dataDirs: [], defaultAddress: "0.0.0.0" },
    port: { number: 25, protocol: "tcp" },
    noHttpProbe: "Postfix speaks SMTP, not HTTP",
  },
  dovecot: {
    title: "Dovecot",
    nixos: {
      module: ["services", "dovecot2"],
      // The option set is services.dovecot2; the unit is systemd.services.dovecot (nixpkgs 25.05+).
      source: "nixos/modules/services/mail/dovecot.nix",
      units: [svc("dovecot.service")],
      user: "dovecot2",
      dataDirs: ["/var/lib/dovecot"],
      defaultAddress: "0.0.0.0",
    },
    debian: { package: "dovecot-core", units: [svc("dovecot.service")], dataDirs: ["/var/lib/dovecot"], defaultAddress: "0.0.0.0" },
    port: { number: 143, protocol: "tcp" },
    noHttpProbe: "Dovecot speaks IMAP, not HTTP",
  },
  samba: {
    title: "Samba",
    nixos: {
      module: ["services", "samba"],
      // nixpkgs 24.11+ names the daemons samba-smbd, samba-nmbd, samba-winbindd (nmbd.enable and
      // winbindd.enable default true), wanted by samba.target; settings is smb.conf.
      source: "nixos/modules/services/network-filesystems/samba.nix",
      units: [svc("samba-smbd.service"), { ...svc("samba-nmbd.service"), enabledBy: ["nmbd", "enable"] }, { ...svc("samba-winbindd.service"), enabledBy: ["winbindd", "enable"] }],
      user: "root",
      dataDirs: ["/var/lib/samba"],
      defaultAddress: "0.0.0.0",
    },
    // Debian's samba package: smbd.service and nmbd.service; its passdb lives in /var/lib/samba/private.
    debian: { package: "samba", units: [svc("smbd.service"), svc("nmbd.service")], dataDirs: ["/var/lib/samba"], defaultAddress: "0.0.0.0" },
    port: { number: 445, protocol: "tcp" },
    noHttpProbe: "Samba speaks SMB, not HTTP",
  },
  "samba-wsdd": {
    title: "wsdd (Web Services Discovery for Samba)",
    nixos: {
      module: ["services", "samba-wsdd"],
      // systemd.services.samba-wsdd, DynamicUser; HTTP on 5357/tcp, discovery on 3702/udp.
      source: "nixos/modules/services/network-filesystems/samba-wsdd.nix",
      units: [svc("samba-wsdd.service")],
      user: "samba-wsdd",
      dataDirs: [],
      defaultAddress: "0.0.0.0",
    },
    // Debian bookworm's wsdd package: wsdd.service (options in /etc/default/wsdd).
    debian: { package: "wsdd", units: [svc("wsdd.service")], dataDirs: [], defaultAddress: "0.0.0.0" },
    port: { number: 5357, protocol: "tcp" },
    noHttpProbe: "wsdd answers WS-Discovery SOAP requests only",
  },
  cockpit: {
    title: "Cockpit",
    nixos: {
      module: ["services", "cockpit"],
      // port (default 9090) on the socket systemd.sockets.cockpit; cockpit.service and the
      // per-connection cockpit-wsinstance-http.service are socket-activated. HTTPS: the gate
      // checks the socket.
      source: "nixos/modules/services/monitoring/cockpit.nix",
      units: [svc("cockpit.socket"), svc("cockpit.service", false), svc("cockpit-wsinstance-http.service", false)],
      user: "root",
      dataDirs: [],
      portOption: ["port"],
      defaultAddress: "0.0.0.0",
    },
    // Debian bookworm's cockpit-ws (cockpit 287): cockpit.socket on 9090, the same socket-activated services.
    debian: { package: "cockpit-ws", units: [svc("cockpit.socket"), svc("cockpit.service", false), svc("cockpit-wsinstance-http.service", false)], dataDirs: [], defaultAddress: "0.0.0.0" },
    port: { number: 9090, protocol: "tcp" },
    noHttpProbe: "Cockpit serves HTTPS on its socket",
  },
  nagios: {
    title: "Nagios",
    nixos: {
      module: ["services", "nagios"],
      // systemd.services.nagios, user nagios, StateDirectory nagios; its web interface is the
      // module's Apache virtual host (enableWebInterface), not a port of the daemon.
      source: "nixos/modules/services/monitoring/nagios.nix",
      units: [svc("nagios.service")],
      user: "nagios",
      dataDirs: ["/var/lib/nagios"],
      defaultAddress: "127.0.0.1",
    },
    // Debian bookworm's nagios4-core: nagios4.service, state in /var/lib/nagios4.
    debian: { package: "nagios4-core", units: [svc("nagios4.service")], dataDirs: ["/var/lib/nagios4"], defaultAddress: "127.0.0.1" },
  },
  sanoid: {
    title: "sanoid",
    nixos: {
      module: ["services", "sanoid"],
      // A oneshot sanoid.service started by sanoid.timer (interval option, default hourly).
      source: "nixos/modules/services/backup/sanoid.nix",
      units: [svc("sanoid.timer"), svc("sanoid.service", false)],
      user: "sanoid",
      dataDirs: [],
      defaultAddress: "127.0.0.1",
    },
    // Debian's sanoid package: sanoid.timer starts sanoid.service (snapshots) and sanoid-prune.service.
    debian: { package: "sanoid", units: [svc("sanoid.timer"), svc("sanoid.service", false), svc("sanoid-prune.service", false)], dataDirs: [], defaultAddress: "127.0.0.1" },
  },
  avahi: {
    title: "Avahi",
    nixos: {
      module: ["services", "avahi"],
      source: "nixos/modules/services/networking/avahi-daemon.nix",
      units: [svc("avahi-daemon.service")],
      user: "avahi",
      dataDirs: [],
      defaultAddress: "0.0.0.0",
    },
    debian: { package: "avahi-daemon", units: [svc("avahi-daemon.service")], dataDirs: [], defaultAddress: "0.0.0.0" },
    port: { number: 5353, protocol: "udp" },
  },
};

export const NATIVE_SERVICES = Object.keys(NATIVE_CATALOGUE).sort();

/** The value at an option path of a native service's JSON options, if any. */
export function optionAt(options: unknown, path: readonly string[]): unknown {
  let node = options;
  for (const key of path) node = node !== null && typeof node === "object" && !Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined;
  return node;
}

/** Option keys that name a secret: their values must be file paths or references, never the secret. */
export const SECRET_OPTION_KEY = /(password|passwd|secret|token|api_?key|private_?key)/i;

/** A string value a secret-named key may hold: a file path or a reference the service resolves from a file. */
export function isSecretReference(value: string): boolean {
  return value.startsWith("/") || value.startsWith("!secret ") || /^\$__(file|env)\{[^}]+\}$/.test(value);
}
