/**
 * The seeds' lessons, asserted on what both committed stacks render (cdk8s style: a snapshot of
 * each host, then targeted assertions on the invariants that matter).
 */
import { renderFleet, type HostBundle } from "../bundle/hostBundle";
import { loadStackFile } from "../config/load";

const prod = renderFleet(loadStackFile(`${__dirname}/../Pulumi.prod.yaml`));
const staging = renderFleet(loadStackFile(`${__dirname}/../Pulumi.staging.yaml`));
const all = [...prod.bundles, ...staging.bundles];
const host = (name: string): HostBundle => all.find((b) => b.host.name === name)!;
const file = (b: HostBundle, path: string): string => {
  const f = b.files.find((x) => x.path === path);
  if (!f) throw new Error(`${b.host.name} has no ${path}; it has ${b.files.map((x) => x.path).join(", ")}`);
  return f.content;
};

describe("snapshots", () => {
  it.each(["vulcan", "forge"])("renders host %s exactly as reviewed", (name) => {
    const b = host(name);
    expect(Object.fromEntries(b.files.map((f) => [`${f.path} (${f.mode})`, f.content]))).toMatchSnapshot();
  });
});

describe("containers", () => {
  it("publish every port on loopback and join their stack's own network", () => {
    const forgeUnit = file(host("forge"), "/etc/systemd/system/podman-litellm-forge.service");
    expect(forgeUnit).toContain("--publish=127.0.0.1:4000:4000");
    expect(forgeUnit).toContain("--network=hf-litellm-forge");
    expect(forgeUnit).not.toContain("--network=host");
    const vulcan = file(host("vulcan"), "/etc/nixos/homefleet/litellm.nix");
    expect(vulcan).toContain('ports = [ "127.0.0.1:4000:4000" ];');
    expect(vulcan).toContain('extraOptions = [ "--network=hf-litellm"');
  });

  it("take secrets only from a root-only env file, never inline", () => {
    const forgeUnit = file(host("forge"), "/etc/systemd/system/podman-litellm-forge.service");
    expect(forgeUnit).toContain("--env-file=/var/lib/homefleet/secrets/litellm-forge/container.env");
    expect(forgeUnit).not.toMatch(/--env=(LITELLM_MASTER_KEY|DATABASE_URL|REDIS_PASSWORD)/);
    const wallabag = file(host("vulcan"), "/etc/nixos/homefleet/wallabag.nix");
    expect(wallabag).toContain('environmentFiles = [ "/var/lib/homefleet/secrets/wallabag/container.env" ];');
    expect(wallabag).not.toContain("DATABASE_PASSWORD =");
  });

  it("are limited, restarted on failure, and active only once healthy", () => {
    const forgeUnit = file(host("forge"), "/etc/systemd/system/podman-litellm-forge.service");
    expect(forgeUnit).toMatch(/^MemoryMax=4G$/m);
    expect(forgeUnit).toMatch(/^CPUQuota=300%$/m);
    expect(forgeUnit).toMatch(/^Restart=on-failure$/m);
    expect(forgeUnit).toMatch(/^ExecStartPost=\/usr\/local\/lib\/homefleet\/homefleet-wait-http http:\/\/127\.0\.0\.1:4000\/health\/readiness 180 5$/m);
    expect(forgeUnit).toMatch(/^TimeoutStartSec=480$/m);
    const vulcan = file(host("vulcan"), "/etc/nixos/homefleet/litellm.nix");
    expect(vulcan).toContain('Restart = lib.mkForce "on-failure";');
    expect(vulcan).toContain("TimeoutStartSec = lib.mkForce 480;");
  });

  it("start after their database and cache, want them, and require only their network", () => {
    const forgeUnit = file(host("forge"), "/etc/systemd/system/podman-litellm-forge.service");
    for (const dep of ["homefleet-postgresql-litellm-forge.service", "redis-litellm-forge.service"]) {
      expect(forgeUnit).toContain(`After=${dep}`);
      expect(forgeUnit).toContain(`Wants=${dep}`);
      // Requires= would restart the container whenever a Redis or PostgreSQL config change does.
      expect(forgeUnit).not.toContain(`Requires=${dep}`);
    }
    expect(forgeUnit).toContain("After=homefleet-network-litellm-forge.service");
    expect(forgeUnit).toContain("Requires=homefleet-network-litellm-forge.service");
  });

  it("run podman without a private mount namespace (its netns mounts must outlive one start)", () => {
    const forgeUnit = file(host("forge"), "/etc/systemd/system/podman-litellm-forge.service");
    for (const directive of ["ProtectHome=", "ProtectKernelLogs=", "PrivateTmp=", "ProtectSystem=", "ReadOnlyPaths=", "InaccessiblePaths=", "PrivateDevices="]) {
      expect(forgeUnit).not.toContain(directive);
    }
  });
});

describe("directories on other filesystems", () => {
  it("every backup job and every container with volumes waits for the mount that holds its directories", () => {
    for (const b of all) {
      const backupDir = b.host.operations.services.find((svc) => svc.name === "homefleet-backup-config")?.requiresMountsFor?.[0];
      expect(backupDir).toBeDefined();
      for (const svc of b.host.operations.services.filter((x) => /^homefleet-backup-(postgresql|redis-.*|config|offsite)$/.test(x.name))) {
        expect({ unit: svc.name, requiresMountsFor: svc.requiresMountsFor }).toEqual({ unit: svc.name, requiresMountsFor: [backupDir] });
        if (b.host.os === "systemd") expect(file(b, `/etc/systemd/system/${svc.name}.service`)).toContain(`RequiresMountsFor=${backupDir}`);
      }
    }
    // A container volume: the data directory of wallabag on vulcan (NixOS).
    expect(file(host("vulcan"), "/etc/nixos/homefleet/wallabag.nix")).toContain('unitConfig.RequiresMountsFor = [ "/var/lib/wallabag/images" ];');
  });
});

describe("PostgreSQL", () => {
  it("authenticates with scram-sha-256 only and never trusts", () => {
    for (const b of all) {
      for (const f of b.files) {
        const lines = f.content.split("\n").filter((l) => !l.trimStart().startsWith("#"));
        expect(`${f.path}: ${lines.join("\n")}`).not.toMatch(/\btrust\b/);
      }
    }
    const hba = file(host("forge"), "/etc/postgresql/15/main/pg_hba.conf");
    expect(hba).toContain(`host "litellm" "litellm" 10.89.0.0/24 scram-sha-256`);
    expect(file(host("forge"), "/etc/postgresql/15/main/conf.d/50-homefleet.conf")).toContain("password_encryption = 'scram-sha-256'");
  });

  it("listens on loopback and the gateways of the stacks that use it, and starts after their bridges (seed 001)", () => {
    const vulcanHost = file(host("vulcan"), "/etc/nixos/homefleet/host.nix");
    expect(vulcanHost).toContain('listen_addresses = lib.mkForce "127.0.0.1,10.89.0.1,10.89.2.1";');
    expect(vulcanHost).toContain('"sys-subsystem-net-devices-hflitellm.device"');
    expect(vulcanHost).toContain('"sys-subsystem-net-devices-hfwallabag.device"');
    const dropIn = file(host("forge"), "/etc/systemd/system/postgresql@15-main.service.d/50-homefleet.conf");
    expect(dropIn).toMatch(/^Wants=sys-subsystem-net-devices-hflitellmforg\.device$/m);
    expect(dropIn).toMatch(/^After=sys-subsystem-net-devices-hflitellmforg\.device$/m);
    expect(dropIn).toMatch(/^Requires=homefleet-network-litellm-forge\.service$/m);
    expect(dropIn).toMatch(/^After=homefleet-network-litellm-forge\.service$/m);
  });

  it("writes no WAL archive_command (seed 000)", () => {
    for (const b of all) for (const f of b.files) expect(f.content).not.toContain("archive_command");
  });

  it("applies the host's tuning", () => {
    const conf = file(host("forge"), "/etc/postgresql/15/main/conf.d/50-homefleet.conf");
    expect(conf).toContain("random_page_cost = 1.1");
    expect(conf).toContain("wal_compression = 'on'");
    expect(conf).toContain("shared_buffers = '512MB'");
  });
});

describe("Redis", () => {
  it("binds loopback and the gateway, requires a password from a file, and keeps RDB plus AOF everysec", () => {
    const conf = file(host("forge"), "/etc/homefleet/litellm-forge/redis.conf");
    expect(conf).toMatch(/^bind 127\.0\.0\.1 10\.89\.0\.1$/m);
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(conf).toMatch(/^appendfsync everysec$/m);
    expect(conf).toMatch(/^save 3600 1 300 100 60 10000$/m);
    expect(conf).toMatch(/^include \/run\/credentials\/redis-litellm-forge\.service\/auth\.conf$/m);
    const nix = file(host("vulcan"), "/etc/nixos/homefleet/litellm.nix");
    expect(nix).toContain('requirePassFile = "/var/lib/homefleet/secrets/litellm/cache-password";');
    expect(nix).toContain('appendFsync = "everysec";');
  });

  it("keeps Debian's default instance disabled where homefleet runs its own", () => {
    expect(host("forge").manifest.disabledUnits).toEqual(["prometheus-redis-exporter.service", "redis-server.service"]);
    expect(host("vulcan").manifest.disabledUnits).toEqual([]);
  });
});

describe("LiteLLM config", () => {
  const yaml = file(host("forge"), "/etc/homefleet/litellm-forge/litellm-config.yaml");

  it("names secrets only as os.environ references", () => {
    expect(yaml).toContain("master_key: os.environ/LITELLM_MASTER_KEY");
    expect(yaml).toContain("database_url: os.environ/DATABASE_URL");
    expect(yaml).toContain("redis_password: os.environ/REDIS_PASSWORD");
  });

  it("uses seed 004's router values and serves no disabled model", () => {
    expect(yaml).toMatch(/timeout: 30\n/);
    expect(yaml).toMatch(/allowed_fails: 5\n/);
    expect(yaml).toMatch(/cooldown_time: 60\n/);
    expect(yaml).toMatch(/request_timeout: 60\n/);
    expect(yaml).not.toContain("dolphin");
  });
});

describe("secrets in the Nix store", () => {
  it("never reference a secret file as a Nix path literal (that would copy it into the store)", () => {
    let checked = 0;
    for (const b of all.filter((x) => x.host.os === "nixos")) {
      for (const f of b.files.filter((x) => x.path.endsWith(".nix"))) {
        // Outside string literals and comments, the secrets directory must not appear at all.
        const code = f.content
          .split("\n")
          .filter((l) => !l.trimStart().startsWith("#"))
          .join("\n")
          .replace(/"(?:[^"\\]|\\.)*"/g, '""')
          .replace(/''[\s\S]*?''/g, "''''");
        expect(code).not.toContain("/var/lib/homefleet/secrets");
        checked += f.content.includes("/var/lib/homefleet/secrets/") ? 1 : 0;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });
});
