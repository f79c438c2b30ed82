/**
 * Render keys (bundle/hostBundle.ts) let a render keep an earlier render's files for a host whose
 * key is unchanged (cli/render.ts). That is only right if a key covers everything the host's
 * bundle is made from: shown here by rendering hosts rebuilt from exactly what the key digests,
 * and by keys that change with the config and the code and with nothing else.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { parse, stringify } from "yaml";
import { buildHostBundle, fleetRenderKey, hostRenderKey } from "../bundle/hostBundle";
import { loadStackFile, parseFleetConfig, type FleetConfig } from "../config/load";
import { buildFleetModel } from "../model/build";
import { buildHostUnits } from "../model/hostUnits";
import type { HostModel } from "../model/specs";
import { projectRoot } from "./support/fleets";
import { mixedFleet } from "./support/mixedFleet";

const ROOT = projectRoot();

function stackFiles(): Record<string, string> {
  const files: Record<string, string> = {
    staging: join(ROOT, "Pulumi.staging.yaml"),
    prod: join(ROOT, "Pulumi.prod.yaml"),
    operations: join(ROOT, "tests", "fixtures", "operations.yaml"),
  };
  for (const example of readdirSync(join(ROOT, "examples"))) {
    for (const f of readdirSync(join(ROOT, "examples", example))) if (/^Pulumi\..+\.yaml$/.test(f)) files[`examples/${example}`] = join(ROOT, "examples", example, f);
  }
  return files;
}

/** Each fleet by name, with a function that reads its config afresh. */
const fleets: [string, () => FleetConfig][] = [...Object.entries(stackFiles()).map(([name, file]): [string, () => FleetConfig] => [name, () => loadStackFile(file)]), ["mixed fleet", () => parseFleetConfig(mixedFleet())]];
const configs = fleets.map(([name, load]): [string, FleetConfig, () => FleetConfig] => [name, load(), load]);

it("covers a fleet of every kind: NixOS and Debian hosts, monitoring, jobs, certificates, a proxy", () => {
  const hosts = configs.flatMap(([, c]) => buildFleetModel(c).hosts);
  expect(new Set(hosts.map((h) => h.os))).toEqual(new Set(["nixos", "systemd"]));
  expect(hosts.some((h) => h.prometheus)).toBe(true);
  expect(hosts.some((h) => h.proxy)).toBe(true);
  expect(hosts.some((h) => h.operations.timers.length > 0)).toBe(true);
  expect(configs.length).toBeGreaterThanOrEqual(8);
});

describe.each(configs)("%s", (_name, config, loadAgain) => {
  const hosts = buildFleetModel(config).hosts;

  it("renders each host from what its key digests alone: its model without units, the units made from that", () => {
    for (const host of hosts) {
      const { units: _units, ...rest } = host;
      const digested = deserialize(serialize(rest)) as Omit<HostModel, "units">;
      const rebuilt: HostModel = { ...digested, units: buildHostUnits(digested) };
      expect(rebuilt.units).toEqual(host.units);
      expect(buildHostBundle(rebuilt)).toEqual(buildHostBundle(host));
    }
  });

  it("gives the same keys to the same config read again, and other keys to another build", () => {
    const reread = loadAgain();
    const again = buildFleetModel(reread).hosts;
    expect(again.map((h) => hostRenderKey(h, "build-1"))).toEqual(hosts.map((h) => hostRenderKey(h, "build-1")));
    expect(fleetRenderKey(reread, "build-1")).toBe(fleetRenderKey(config, "build-1"));
    for (const h of hosts) expect(hostRenderKey(h, "build-2")).not.toBe(hostRenderKey(h, "build-1"));
    expect(fleetRenderKey(config, "build-2")).not.toBe(fleetRenderKey(config, "build-1"));
  });
});

describe("a change to one host's config", () => {
  const text = readFileSync(join(ROOT, "Pulumi.staging.yaml"), "utf8");
  const before = buildFleetModel(loadStackFile(join(ROOT, "Pulumi.staging.yaml")));

  /** The staging stack with `edit` applied to its parsed config. */
  function edited(edit: (config: { hosts: Record<string, any>; stacks: Record<string, any> }) => void): FleetConfig {
    const raw = parse(text) as { config: Record<string, any> };
    const hosts = structuredClone(raw.config["homefleet:hosts"]);
    const stacks = structuredClone(raw.config["homefleet:stacks"]);
    edit({ hosts, stacks });
    return loadStackFileFromRaw({ ...raw.config, "homefleet:hosts": hosts, "homefleet:stacks": stacks });
  }

  it("changes that host's key and the fleet's, and no other host's", () => {
    const [first, second] = before.hosts;
    const config = edited(({ hosts }) => {
      hosts[first.name].postgresql = { ...(hosts[first.name].postgresql ?? {}), settings: { ...(hosts[first.name].postgresql?.settings ?? {}), work_mem: "8MB" } };
    });
    const after = buildFleetModel(config).hosts;
    expect(hostRenderKey(after[0], "b")).not.toBe(hostRenderKey(first, "b"));
    expect(hostRenderKey(after[1], "b")).toBe(hostRenderKey(second, "b"));
    expect(fleetRenderKey(config, "b")).not.toBe(fleetRenderKey(loadStackFile(join(ROOT, "Pulumi.staging.yaml")), "b"));
    // And the bundle did change: the key was right to.
    expect(buildHostBundle(after[0]).manifest.sha256).not.toBe(buildHostBundle(first).manifest.sha256);
  });
});

/** A stack file's `config:` as loadStackFile reads it, without a file. */
function loadStackFileFromRaw(config: Record<string, unknown>): FleetConfig {
  const dir = mkdtempSync(join(tmpdir(), "homefleet-key-"));
  try {
    const file = join(dir, "Pulumi.edited.yaml");
    writeFileSync(file, stringify({ config }));
    return loadStackFile(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
