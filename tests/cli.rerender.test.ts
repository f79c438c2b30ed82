/**
 * `homefleet render` over an earlier render updates it in place: what is already right stays,
 * everything else ends as a fresh render would leave it.
 */
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync, type Stats } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { loadStackFile, type FleetConfig } from "../config/load";
import { main } from "../cli/main";
import { RENDER_INDEX, renderInto, writeRender } from "../cli/render";
import { addPostgresSetting, loadEditedStackFile } from "./support/fleets";
import { tree } from "./support/tree";

const ROOT = join(__dirname, "..");
const UNIT = join("box-staging", "etc", "systemd", "system", "redis-litellm-box.service");

async function render(out: string): Promise<void> {
  const io = { out: { write: () => true }, err: { write: () => true }, cwd: ROOT } as unknown as NonNullable<Parameters<typeof main>[1]>;
  expect(await main(["node", "homefleet", "render", "--stack", "staging", "--out", out], io)).toBe(0);
}

let scratch: string;
let fresh: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "homefleet-rerender-"));
  fresh = join(scratch, "fresh");
  await render(fresh);
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function rerendered(name: string, edit: (out: string) => void): Promise<string> {
  const out = join(scratch, name);
  await render(out);
  edit(out);
  await render(out);
  return out;
}

it("leaves a file that is already right alone (same inode, same modification time)", async () => {
  const before: Stats[] = [];
  const out = await rerendered("untouched", (o) => before.push(statSync(join(o, UNIT))));
  const after = statSync(join(out, UNIT));
  expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: before[0].ino, mtimeMs: before[0].mtimeMs });
});

it("writes back a file edited by hand, and a hard link to the edited file keeps the edit", async () => {
  const link = join(scratch, "hand-edit-link");
  const out = await rerendered("hand-edit", (o) => {
    writeFileSync(join(o, UNIT), "edited\n");
    linkSync(join(o, UNIT), link);
  });
  expect(readFileSync(join(out, UNIT))).toEqual(readFileSync(join(fresh, UNIT)));
  expect(readFileSync(link, "utf8")).toBe("edited\n");
});

it("restores a file's mode", async () => {
  const out = await rerendered("mode", (o) => chmodSync(join(o, UNIT), 0o600));
  expect(statSync(join(out, UNIT)).mode & 0o7777).toBe(statSync(join(fresh, UNIT)).mode & 0o7777);
});

it("replaces a symlink where a file belongs, without writing through it", async () => {
  const target = join(scratch, "symlink-target");
  writeFileSync(target, "not homefleet's\n");
  const out = await rerendered("symlink", (o) => {
    unlinkSync(join(o, UNIT));
    symlinkSync(target, join(o, UNIT));
  });
  expect(lstatSync(join(out, UNIT)).isFile()).toBe(true);
  expect(readFileSync(join(out, UNIT))).toEqual(readFileSync(join(fresh, UNIT)));
  expect(readFileSync(target, "utf8")).toBe("not homefleet's\n");
});

it("replaces a directory where a file belongs", async () => {
  const out = await rerendered("directory", (o) => {
    unlinkSync(join(o, UNIT));
    mkdirSync(join(o, UNIT, "inside"), { recursive: true });
  });
  expect(readFileSync(join(out, UNIT))).toEqual(readFileSync(join(fresh, UNIT)));
});

/** The files and directories opened or listed by `run`, relative to `out`. */
function touched(out: string, run: () => void): string[] {
  // The module object itself (an `import * as` copy cannot be spied on): cli/render.ts calls through it.
  const fs = require("node:fs") as typeof import("node:fs");
  const opened = jest.spyOn(fs, "openSync");
  const listed = jest.spyOn(fs, "readdirSync");
  try {
    run();
    return [...opened.mock.calls, ...listed.mock.calls].map((call) => String(call[0])).map((p) => (p === out ? "." : p.slice(out.length + 1)));
  } finally {
    opened.mockRestore();
    listed.mockRestore();
  }
}

/**
 * The render index (cli/render.ts): once an earlier render has settled, a file or directory whose
 * lstat is as the index recorded it is trusted without being read or listed; anything else is
 * checked as without an index. The clock passed to writeRender is moved forward so that what
 * the test wrote a moment ago counts as settled (a real render waits SETTLE_MS for that).
 */
describe("the render index", () => {
  const stagingRender = renderFleet(loadStackFile(join(ROOT, "Pulumi.staging.yaml")));
  let clock = Date.now();
  /** writeRender with a clock a minute later on every call. */
  const write = (out: string): number => writeRender(stagingRender, out, () => (clock += 60_000));

  /** Renders into a new directory, then over it (which writes the index, all settled). */
  function settled(name: string): string {
    const out = join(scratch, name);
    write(out);
    write(out);
    expect(lstatSync(join(out, RENDER_INDEX)).isFile()).toBe(true);
    return out;
  }

  it("is not written by a render into a new directory (nothing it wrote has settled yet)", () => {
    const out = join(scratch, "index-new");
    write(out);
    expect(existsSync(join(out, RENDER_INDEX))).toBe(false);
    expect(tree(out)).toEqual(tree(fresh));
  });

  it("lets a render over a settled render read no rendered file and list only the output directory", () => {
    const out = join(scratch, "index-trusted");
    write(out);
    // Without an index: every directory listed, every file read back.
    const checked = touched(out, () => write(out));
    expect(checked).toContain(UNIT);
    expect(checked).toContain("pi-staging/etc/nixos/homefleet");
    expect(checked.length).toBeGreaterThan(49);
    const unit = statSync(join(out, UNIT));
    const index = readFileSync(join(out, RENDER_INDEX));
    // With it: the output directory listed (twice: is it empty, what is in it), manifest.json read.
    expect(touched(out, () => write(out)).sort()).toEqual([".", ".", "manifest.json"]);
    expect(tree(out)).toEqual(tree(fresh));
    expect({ ino: statSync(join(out, UNIT)).ino, mtimeMs: statSync(join(out, UNIT)).mtimeMs }).toEqual({ ino: unit.ino, mtimeMs: unit.mtimeMs });
    // Nothing changed: the index is not written again.
    expect(readFileSync(join(out, RENDER_INDEX))).toEqual(index);
  });

  const edits: [string, (out: string) => void][] = [
    ["a file edited in place, same size", (o) => writeFileSync(join(o, UNIT), readFileSync(join(o, UNIT), "utf8").replace("Redis", "Rxdis"))],
    ["a file's mode changed", (o) => chmodSync(join(o, UNIT), 0o600)],
    ["a file deleted", (o) => unlinkSync(join(o, UNIT))],
    ["a file replaced by rename", (o) => {
      writeFileSync(join(o, "replacement"), "other\n");
      renameSync(join(o, "replacement"), join(o, UNIT));
    }],
    ["a file replaced by a symlink", (o) => {
      unlinkSync(join(o, UNIT));
      symlinkSync(join(fresh, UNIT), join(o, UNIT));
    }],
    ["a file replaced by a directory", (o) => {
      unlinkSync(join(o, UNIT));
      mkdirSync(join(o, UNIT, "inside"), { recursive: true });
    }],
    ["a stray file added to a rendered directory", (o) => writeFileSync(join(o, UNIT + ".orig"), "stray\n")],
    ["a stray directory added deep down", (o) => mkdirSync(join(o, "pi-staging", "etc", "nixos", "stray", "deeper"), { recursive: true })],
    ["a rendered directory removed", (o) => rmSync(join(o, "box-staging", "etc", "systemd"), { recursive: true })],
    ["a rendered directory replaced by a file", (o) => {
      rmSync(join(o, "box-staging", "etc", "systemd"), { recursive: true });
      writeFileSync(join(o, "box-staging", "etc", "systemd"), "file\n");
    }],
    ["the index removed, and a file edited", (o) => {
      unlinkSync(join(o, RENDER_INDEX));
      writeFileSync(join(o, UNIT), "edited\n");
    }],
    ["the index corrupt, and a file edited", (o) => {
      writeFileSync(join(o, RENDER_INDEX), readFileSync(join(o, RENDER_INDEX), "utf8").slice(0, 500));
      writeFileSync(join(o, UNIT), "edited\n");
    }],
    ["the index of another format, and a file edited", (o) => {
      const index = JSON.parse(readFileSync(join(o, RENDER_INDEX), "utf8")) as { format: string };
      writeFileSync(join(o, RENDER_INDEX), JSON.stringify({ ...index, format: `${index.format}0` }));
      writeFileSync(join(o, UNIT), "edited\n");
    }],
    ["the index with entries of the wrong types, and a stray file", (o) => {
      // Signatures kept, what follows them wrong: a name that is no name, a sha256 that is no string.
      const index = JSON.parse(readFileSync(join(o, RENDER_INDEX), "utf8")) as { format: string; dirs: Record<string, unknown[]>; files: Record<string, unknown[]> };
      for (const k of Object.keys(index.dirs)) index.dirs[k] = [...index.dirs[k].slice(0, 6), "..", 7];
      for (const k of Object.keys(index.files)) index.files[k] = [...index.files[k].slice(0, 6), 1];
      writeFileSync(join(o, RENDER_INDEX), JSON.stringify(index));
      writeFileSync(join(o, UNIT + ".orig"), "stray\n");
    }],
    ["the index replaced by a directory", (o) => {
      unlinkSync(join(o, RENDER_INDEX));
      mkdirSync(join(o, RENDER_INDEX));
    }],
  ];
  it.each(edits)("puts back what a fresh render writes after %s", (_what, edit) => {
    const out = settled(`index-${_what.replace(/\W+/g, "-")}`);
    edit(out);
    write(out);
    expect(tree(out)).toEqual(tree(fresh));
    // And the index it leaves is right too: one more render changes nothing.
    write(out);
    expect(tree(out)).toEqual(tree(fresh));
  });

  it("does not trust what changed less than a second before the render that recorded it", () => {
    const out = join(scratch, "index-unsettled");
    write(out);
    // The real clock: everything was written just now.
    writeRender(stagingRender, out);
    expect(existsSync(join(out, RENDER_INDEX))).toBe(false);
  });

  it("rewrites a file whose content the config changed, though lstat matches the index", () => {
    const out = settled("index-config-change");
    const prod = renderFleet(loadStackFile(join(ROOT, "Pulumi.prod.yaml")));
    writeRender(prod, out, () => (clock += 60_000));
    const prodFresh = join(scratch, "index-prod-fresh");
    writeRender(prod, prodFresh, () => (clock += 60_000));
    expect(tree(out)).toEqual(tree(prodFresh));
    write(out);
    expect(tree(out)).toEqual(tree(fresh));
  });

  it("replaces a file the index recorded with other content without reading it back", () => {
    const out = settled("index-known-other");
    const stagingFile = join(ROOT, "Pulumi.staging.yaml");
    const host = stagingRender.bundles.find((b) => b.host.os === "systemd")!.host.name;
    const edited = renderFleet(loadEditedStackFile(stagingFile, (c) => addPostgresSetting(c, host)));
    const fs = require("node:fs") as typeof import("node:fs");
    const opened = jest.spyOn(fs, "openSync");
    let readBack: string[];
    try {
      writeRender(edited, out, () => (clock += 60_000));
      // Reading a file back opens it with numeric flags (O_RDONLY | O_NOFOLLOW); writeFileSync and readFileSync pass theirs as text.
      readBack = opened.mock.calls.filter((call) => typeof call[1] === "number").map((call) => String(call[0]));
    } finally {
      opened.mockRestore();
    }
    expect(readBack).toEqual([]);
    // The setting's file is one of those it replaced.
    expect(tree(out)).not.toEqual(tree(fresh));
    const editedFresh = join(scratch, "index-known-other-fresh");
    writeRender(edited, editedFresh, () => (clock += 60_000));
    expect(tree(out)).toEqual(tree(editedFresh));
  });
});

/**
 * Hosts kept from the earlier render (cli/render.ts, renderInto): with the build's identity, a
 * render over a settled render renders only the hosts whose model changed, and the tree it
 * leaves is always the one a fresh render of the same config writes.
 */
describe("hosts kept from the earlier render", () => {
  const hostBundle = require("../bundle/hostBundle") as typeof import("../bundle/hostBundle");
  const stagingFile = join(ROOT, "Pulumi.staging.yaml");
  const staging = loadStackFile(stagingFile);
  const stagingHosts = renderFleet(staging).bundles.map((b) => b.host);
  const hostNames = stagingHosts.map((h) => h.name);
  let clock = Date.now() + 3_600_000;
  const later = () => (clock += 60_000);

  /** renderInto with a clock a minute later on every call; returns the outcome and the hosts it rendered. */
  function renderWith(config: FleetConfig, out: string, codeIdentity: string | null = "build-1") {
    const rendered = jest.spyOn(hostBundle, "buildHostBundle");
    try {
      const outcome = renderInto(config, out, { codeIdentity: codeIdentity ?? undefined, now: later });
      return { outcome, rendered: rendered.mock.calls.map(([host]) => host.name) };
    } finally {
      rendered.mockRestore();
    }
  }

  /** A fresh render of `config` into a new directory, as a tree. */
  function freshTree(config: FleetConfig, name: string): Map<string, string> {
    const dir = join(scratch, `keep-fresh-${name}`);
    writeRender(renderFleet(config), dir, later);
    return tree(dir);
  }

  /** A directory rendered twice with build-1: its index records every file and the host keys. */
  function settledWithKeys(name: string): string {
    const out = join(scratch, `keep-${name}`);
    expect(renderWith(staging, out).rendered).toEqual(hostNames);
    expect(renderWith(staging, out).rendered).toEqual(hostNames);
    return out;
  }

  /** The staging stack with its first host's PostgreSQL given one more setting. */
  function stagingWithOneHostChanged(): { config: FleetConfig; host: string } {
    const host = stagingHosts.find((h) => h.os === "systemd")!.name;
    return { config: loadEditedStackFile(stagingFile, (c) => addPostgresSetting(c, host)), host };
  }

  it("renders no host when nothing changed, and reads no rendered file", () => {
    const out = settledWithKeys("unchanged");
    const index = readFileSync(join(out, RENDER_INDEX));
    let result: ReturnType<typeof renderWith> | undefined;
    const checked = touched(out, () => (result = renderWith(staging, out)));
    expect(result!.rendered).toEqual([]);
    expect(result!.outcome.hosts.map((h) => h.kept)).toEqual(hostNames.map(() => true));
    expect(result!.outcome.count).toBe(49);
    // The output directory listed (is it empty, what is in it), manifest.json read: nothing else.
    expect(checked.sort()).toEqual([".", ".", "manifest.json"]);
    expect(tree(out)).toEqual(tree(fresh));
    expect(readFileSync(join(out, RENDER_INDEX))).toEqual(index);
  });

  it("renders only the host whose model changed, and leaves what a fresh render of the new config writes", () => {
    const out = settledWithKeys("one-host");
    const { config, host } = stagingWithOneHostChanged();
    const { rendered, outcome } = renderWith(config, out);
    expect(rendered).toEqual([host]);
    expect(outcome.hosts.filter((h) => !h.kept).map((h) => h.name)).toEqual([host]);
    expect(tree(out)).toEqual(freshTree(config, "one-host"));
    // And back: the changed host again, with the tree of the first config.
    expect(renderWith(staging, out).rendered).toEqual([host]);
    expect(tree(out)).toEqual(tree(fresh));
  });

  it("renders a host again when one of its files is not as recorded, and puts the file back", () => {
    const out = settledWithKeys("hand-edit");
    writeFileSync(join(out, UNIT), readFileSync(join(out, UNIT), "utf8").replace("Redis", "Rxdis"));
    expect(renderWith(staging, out).rendered).toEqual(["box-staging"]);
    expect(tree(out)).toEqual(tree(fresh));
  });

  it("renders a kept host when its files turn out to be elsewhere: a directory moved and linked back", () => {
    const out = settledWithKeys("moved");
    // The files keep their inodes and times, so lstat through the link finds them as recorded;
    // the link itself is no directory of the render, so it is replaced and the files written anew.
    const moved = join(scratch, "keep-moved-etc");
    renameSync(join(out, "pi-staging", "etc"), moved);
    symlinkSync(moved, join(out, "pi-staging", "etc"));
    const { rendered, outcome } = renderWith(staging, out);
    // Planned as kept (its model did not change), rendered when its files had to be written.
    expect(rendered).toEqual(["pi-staging"]);
    expect(outcome.hosts.map((h) => [h.name, h.kept])).toEqual([["box-staging", true], ["pi-staging", false]]);
    expect(lstatSync(join(out, "pi-staging", "etc")).isDirectory()).toBe(true);
    expect(tree(out)).toEqual(tree(fresh));
  });

  it("renders every host for another build, or without a build's identity", () => {
    const out = settledWithKeys("other-build");
    expect(renderWith(staging, out, "build-2").rendered).toEqual(hostNames);
    expect(renderWith(staging, out, null).rendered).toEqual(hostNames);
    expect(JSON.parse(readFileSync(join(out, RENDER_INDEX), "utf8")).hosts).toEqual({});
    expect(renderWith(staging, out, null).rendered).toEqual(hostNames);
    expect(tree(out)).toEqual(tree(fresh));
  });

  it("does not parse the earlier manifest.json when no host can be kept (another build: every key is new)", () => {
    const out = settledWithKeys("no-parse");
    const earlier = readFileSync(join(out, "manifest.json"), "utf8");
    const parse = jest.spyOn(JSON, "parse");
    try {
      expect(renderWith(staging, out, "build-2").rendered).toEqual(hostNames);
      expect(parse.mock.calls.filter(([text]) => text === earlier)).toEqual([]);
      // With the same build every host is kept, from the manifest parsed once.
      expect(renderWith(staging, out, "build-2").rendered).toEqual([]);
      const written = readFileSync(join(out, "manifest.json"), "utf8");
      expect(parse.mock.calls.filter(([text]) => text === written)).toHaveLength(1);
    } finally {
      parse.mockRestore();
    }
    expect(tree(out)).toEqual(tree(fresh));
  });

  it("keeps no host when manifest.json is not the one the index was written with", () => {
    const out = settledWithKeys("manifest-edited");
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as { hosts: Record<string, { files: { sha256: string }[] }> };
    manifest.hosts[hostNames[0]].files[0].sha256 = "0".repeat(64);
    writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
    expect(renderWith(staging, out).rendered).toEqual(hostNames);
    expect(tree(out)).toEqual(tree(fresh));
  });

  it("keeps the hosts that stay when a host leaves the config, and removes the one that left", () => {
    const out = settledWithKeys("host-left");
    // Not the Prometheus host: the others' monitoring needs it.
    const leaving = hostNames.find((h) => h !== staging.monitoring?.prometheusHost)!;
    const staying = hostNames.find((h) => h !== leaving)!;
    const config = loadEditedStackFile(stagingFile, (c) => {
      delete c["homefleet:hosts"][leaving];
      for (const [name, stack] of Object.entries(c["homefleet:stacks"] as Record<string, { host: string }>)) if (stack.host === leaving) delete c["homefleet:stacks"][name];
    });
    const { rendered, outcome } = renderWith(config, out);
    expect(outcome.hosts.map((h) => h.name)).toEqual([staying]);
    // The staying host's model may depend on the fleet (monitoring): kept only if it did not change.
    expect(rendered).toEqual(outcome.hosts[0].kept ? [] : [staying]);
    expect(existsSync(join(out, leaving))).toBe(false);
    expect(tree(out)).toEqual(freshTree(config, "host-left"));
  });

  it("takes the recorded host keys when the fleet's key is unchanged, and computes them when it is not", () => {
    const out = settledWithKeys("fleet-key");
    const keys = jest.spyOn(hostBundle, "hostRenderKey");
    try {
      renderWith(staging, out);
      expect(keys).not.toHaveBeenCalled();
      renderWith(stagingWithOneHostChanged().config, out);
      expect(keys).toHaveBeenCalledTimes(hostNames.length);
    } finally {
      keys.mockRestore();
    }
  });
});
