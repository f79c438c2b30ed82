/**
 * The NixOS flavour on the same kind of host, with a clearly named stand-in for nixos-rebuild
 * (e2e/standin/nixos-rebuild): it parses every generated .nix file with nix-instantiate --parse
 * and keeps system generations, but builds and starts nothing. So this host runs no stack: the
 * NixOS modules of its operations (backups, exporters) go through the whole deployment path
 * (upload, generations, nixos-rebuild, rollback, drift, removal), and the health gate has no
 * service to wait for. The services themselves are proven on the plain systemd hosts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderFleet, sha256, type FleetRender, type HostManifest } from "../bundle/hostBundle";
import { parseFleetConfig } from "../config/load";
import { deployHost, readHost, removeHost } from "../deploy/deployHost";
import type { RenderedFile } from "../render/types";
import { bootHost, onHost, stopHost, target, type TestHost } from "./support/hosts";

let host: TestHost;

function fleet(retentionDays = 30): FleetRender {
  return renderFleet(
    parseFleetConfig({
      hosts: {
        [host.name]: { address: host.address, arch: "x86_64", os: "nixos", hostKey: host.hostKey, backup: { retentionDays } },
        // Stacks must live somewhere: on a host this test never deploys.
        elsewhere: { address: "10.231.250.3", arch: "aarch64", os: "systemd" },
      },
      stacks: { app: { host: "elsewhere", kind: "container", network: { subnet: "10.89.0.0/24" }, container: { image: "localhost/homefleet-standin:1", port: 8080, healthCheck: { path: "/health" } } } },
    }),
  );
}

function bundleOf(render: FleetRender) {
  return render.bundles.find((b) => b.host.name === host.name)!;
}

/** The bundle with one module made unparsable, and the manifest hashes to match. */
function withBrokenModule(render: FleetRender): { files: RenderedFile[]; manifest: HostManifest } {
  const { files, manifest } = bundleOf(render);
  const broken = files.map((f) => (f.path.endsWith("/operations.nix") ? { ...f, content: f.content.replace(/\}\s*$/, "") } : f));
  const byPath = new Map(broken.map((f) => [f.path, f]));
  const body = { ...manifest, files: manifest.files.map((f) => ({ ...f, sha256: sha256(byPath.get(f.path)!.content), size: Buffer.byteLength(byPath.get(f.path)!.content) })) };
  const { sha256: _old, ...rest } = body;
  return { files: broken, manifest: { ...rest, sha256: sha256(JSON.stringify(rest)) } as HostManifest };
}

beforeAll(() => {
  host = bootHost("e2e3", 13);
  // The stand-in, and the configuration.nix a NixOS host has, importing homefleet's modules.
  const standin = readFileSync(join(__dirname, "..", "e2e", "standin", "nixos-rebuild"), "utf8");
  const install = onHost(host, `install -D -m 0755 /dev/stdin /usr/local/sbin/nixos-rebuild <<'STANDIN'\n${standin}STANDIN\nmkdir -p /etc/nixos && printf '{ ... }:\\n{\\n  imports = [ ./homefleet ];\\n}\\n' > /etc/nixos/configuration.nix && nixos-rebuild switch`);
  if (install.status !== 0) throw new Error(`installing the nixos-rebuild stand-in failed: ${install.stderr}`);
});

afterAll(() => {
  stopHost("e2e3");
});

describe("NixOS flavour (stand-in nixos-rebuild)", () => {
  it("first deploy: modules uploaded, parsed, and a new system generation", async () => {
    const { files, manifest } = bundleOf(fleet());
    expect(manifest.os).toBe("nixos");
    const result = await deployHost(target(host), files, manifest, [], { healthTimeoutSec: 30 });
    expect(result).toMatchObject({ generation: 1, changed: true, health: { verdict: "healthy" } });
    expect(result.uploadedFiles).toContain("/etc/nixos/homefleet/operations.nix");
    expect(onHost(host, "nixos-rebuild list-generations").stdout.trim().split("\n").pop()).toBe("2 current");
    expect(onHost(host, "grep -c retention /etc/nixos/homefleet/scripts/homefleet-backup-config.sh || true").status).toBe(0);
  });

  it("no-op re-deploy: nothing uploaded, no nixos-rebuild", async () => {
    const { files, manifest } = bundleOf(fleet());
    const result = await deployHost(target(host), files, manifest, []);
    expect(result).toMatchObject({ changed: false, uploadedFiles: [], generation: 1 });
    expect(onHost(host, "nixos-rebuild list-generations").stdout.trim().split("\n").pop()).toBe("2 current");
  });

  it("a change uploads only the changed files and switches", async () => {
    const { files, manifest } = bundleOf(fleet(14));
    const result = await deployHost(target(host), files, manifest, []);
    expect(result.generation).toBe(2);
    expect(result.uploadedFiles.length).toBeGreaterThan(0);
    expect(result.uploadedFiles.length).toBeLessThan(manifest.files.length);
    expect(onHost(host, "nixos-rebuild list-generations").stdout.trim().split("\n").pop()).toBe("3 current");
  });

  it("a module that does not parse fails the switch, and the host goes back to the old modules", async () => {
    const before = await readHost(target(host));
    const { files, manifest } = withBrokenModule(fleet(14));
    const error = await deployHost(target(host), files, manifest, [], { healthTimeoutSec: 10 }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).toMatch(/^host e2e3: generation 3 failed its health check "activation"; rolled back to generation 2, which is healthy/);
    expect(error?.message).toContain("does not parse");
    const after = await readHost(target(host));
    expect(after.generation).toBe(before.generation);
    expect(Object.values(after.files)).not.toContain("missing");
    expect(onHost(host, "nix-instantiate --parse /etc/nixos/homefleet/operations.nix >/dev/null && echo parses").stdout.trim()).toBe("parses");
  });

  it("read sees a hand edit to a module", async () => {
    onHost(host, "echo '# hand edit' >> /etc/nixos/homefleet/host.nix");
    const status = await readHost(target(host));
    const expected = new Map(bundleOf(fleet(14)).manifest.files.map((f) => [f.path, f.sha256]));
    expect(Object.entries(status.files).filter(([p, h]) => expected.get(p) !== h).map(([p]) => p)).toEqual(["/etc/nixos/homefleet/host.nix"]);
  });

  it("destroy leaves an empty module behind, so configuration.nix still evaluates", async () => {
    await removeHost(target(host));
    expect(onHost(host, "ls /etc/nixos/homefleet").stdout.trim()).toBe("default.nix");
    expect(onHost(host, "nix-instantiate --parse /etc/nixos/homefleet/default.nix >/dev/null && echo parses").stdout.trim()).toBe("parses");
    expect(onHost(host, "test -e /var/lib/homefleet/current; echo $?").stdout.trim()).toBe("1");
  });
});
