/**
 * Render keys (bundle/hostBundle.ts) let a render keep an earlier render's files for a host whose
 * key is unchanged (cli/render.ts). That is only right if a key covers everything the host's
 * bundle is made from: shown here by rendering hosts rebuilt from exactly what the key digests,
 * and by keys that change with the config and the code and with nothing else.
 */
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { buildHostBundle, fleetRenderKey, hostRenderKey } from "../bundle/hostBundle";
import { loadStackFile, parseFleetConfig, type FleetConfig } from "../config/load";
import { buildFleetModel } from "../model/build";
import { buildHostUnits } from "../model/hostUnits";
import type { HostModel } from "../model/specs";
import { addPostgresSetting, committedStackFiles, exampleStackFiles, loadEditedStackFile, projectRoot } from "./support/fleets";
import { mixedFleet } from "./support/mixedFleet";

const ROOT = projectRoot();

function stackFiles(): Record<string, string> {
  const examples = Object.entries(exampleStackFiles()).map(([name, file]) => [`examples/${name}`, join(ROOT, file)]);
  return { ...committedStackFiles(), ...Object.fromEntries(examples) };
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
  const stagingFile = committedStackFiles().staging;
  const before = buildFleetModel(loadStackFile(stagingFile));

  it("changes that host's key and the fleet's, and no other host's", () => {
    const [first, second] = before.hosts;
    const config = loadEditedStackFile(stagingFile, (c) => addPostgresSetting(c, first.name));
    const after = buildFleetModel(config).hosts;
    expect(hostRenderKey(after[0], "b")).not.toBe(hostRenderKey(first, "b"));
    expect(hostRenderKey(after[1], "b")).toBe(hostRenderKey(second, "b"));
    expect(fleetRenderKey(config, "b")).not.toBe(fleetRenderKey(loadStackFile(stagingFile), "b"));
    // And the bundle did change: the key was right to.
    expect(buildHostBundle(after[0]).manifest.sha256).not.toBe(buildHostBundle(first).manifest.sha256);
  });
});
