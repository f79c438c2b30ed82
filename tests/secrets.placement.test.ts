/**
 * Secrets reach units only through LoadCredential= or a root-only EnvironmentFile (seed 000: the
 * LiteLLM master key ended up in the journal). Every secret file path of every host is a canary:
 * it may appear only on the lines that hand a file to systemd, podman or Redis, never where its
 * content could be expanded into a command line, an Environment= line or a log.
 */
import { renderedFleets } from "./support/fleets";

const fleets = renderedFleets();
const bundles = Object.values(fleets).flatMap((f) => f.bundles);

/** Lines allowed to name a secret file, per kind of file. */
const ALLOWED_UNIT_LINE = /^(LoadCredential=[a-z0-9.-]+:|EnvironmentFile=|ExecStart=\/usr\/bin\/podman run .*--env-file=)/;
const ALLOWED_NIX_LINE = /^\s*("password:|"redis-password:|"restic-password:|LoadCredential = |EnvironmentFile = |environmentFiles = |requirePassFile = |"\/var\/lib\/homefleet\/secrets\/[^"]+"$)/;
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|MASTER_KEY|API_KEY)/i;

it("finds secret files to check on every host", () => {
  for (const b of bundles) expect(b.manifest.secretFiles.length).toBeGreaterThan(0);
});

describe.each(bundles.map((b) => [b.host.name, b] as const))("host %s", (_name, bundle) => {
  const secretPaths = bundle.manifest.secretFiles.map((s) => s.path);

  it("writes every secret file root-only", () => {
    for (const s of bundle.manifest.secretFiles) {
      expect(s).toMatchObject({ owner: "root", group: "root" });
      expect(["0400", "0440"]).toContain(s.mode);
    }
  });

  it("names secret files only where a file is handed over, never on a command line or in Environment=", () => {
    for (const f of bundle.files) {
      const lines = f.content.split("\n");
      lines.forEach((line, i) => {
        const named = secretPaths.filter((p) => line.includes(p));
        if (!named.length) return;
        const where = `${f.path}:${i + 1}: ${line.trim()}`;
        if (f.path.endsWith(".nix")) expect({ where, allowed: ALLOWED_NIX_LINE.test(line) }).toEqual({ where, allowed: true });
        else if (/\.(service|conf)$/.test(f.path) && f.path.includes("/systemd/")) expect({ where, allowed: ALLOWED_UNIT_LINE.test(line) }).toEqual({ where, allowed: true });
        else expect({ where, allowed: false }).toEqual({ where, allowed: true });
      });
    }
  });

  it("puts no secret-looking variable into an Environment= line or a NixOS environment", () => {
    for (const f of bundle.files) {
      for (const line of f.content.split("\n")) {
        if (/^Environment=/.test(line)) expect(line).not.toMatch(SECRET_NAME);
        if (/^--env=/.test(line)) expect(line).not.toMatch(SECRET_NAME);
      }
      if (f.path.endsWith(".service")) expect(f.content).not.toMatch(/--env=[A-Z_]*(PASSWORD|SECRET|TOKEN|MASTER_KEY|API_KEY)/);
    }
  });

  it("never passes a password to a command as an argument", () => {
    for (const f of bundle.files) {
      expect(f.content).not.toMatch(/redis-cli[^\n]*\s-a\s/);
      expect(f.content).not.toMatch(/--requirepass\b/);
      expect(f.content).not.toMatch(/PGPASSWORD=/);
      expect(f.content).not.toMatch(/--password[= ]/);
    }
  });
});
