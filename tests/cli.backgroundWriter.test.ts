/**
 * A render of many hosts into a new directory writes each host's files on a helper thread while
 * the next host renders (cli/backgroundWriter.ts): the tree must be the one the plain writer
 * leaves, modes included, and a failure must reach the command with the path it names.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticFleetConfig } from "../bench/synthetic";
import { renderFleet } from "../bundle/hostBundle";
import * as backgroundWriter from "../cli/backgroundWriter";
import { RENDER_INDEX, renderInto, writeRender } from "../cli/render";
import { loadStackFile, parseFleetConfig } from "../config/load";
import { projectRoot } from "./support/fleets";
import { tree } from "./support/tree";

let scratch: string;
beforeAll(() => (scratch = mkdtempSync(join(tmpdir(), "homefleet-background-writer-"))));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** renderInto, with the number of helper threads it started. */
function renderCounting(config: Parameters<typeof renderInto>[0], out: string): { hosts: number; writers: number } {
  const started = jest.spyOn(backgroundWriter, "startBackgroundWriter");
  try {
    const outcome = renderInto(config, out, { codeIdentity: "build-1" });
    return { hosts: outcome.hosts.length, writers: started.mock.calls.length };
  } finally {
    started.mockRestore();
  }
}

it("writes a large fleet into a new directory on a helper thread, exactly as the plain writer does", () => {
  const config = parseFleetConfig(syntheticFleetConfig(24));
  const plain = join(scratch, "plain");
  writeRender(renderFleet(config), plain);
  const out = join(scratch, "background");
  expect(renderCounting(config, out)).toEqual({ hosts: 24, writers: 1 });
  const written = tree(out);
  expect(written.size).toBeGreaterThan(24 * 20);
  expect(written).toEqual(tree(plain));
  // As from the plain writer: no index (nothing settled yet), manifest.json written.
  expect(readdirSync(out)).not.toContain(RENDER_INDEX);
  expect(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).generator).toBe("homefleet");
});

it("starts no helper for a small stack, nor over an earlier render, and leaves the same trees", () => {
  const staging = loadStackFile(join(projectRoot(), "Pulumi.staging.yaml"));
  const out = join(scratch, "small");
  expect(renderCounting(staging, out)).toEqual({ hosts: 2, writers: 0 });
  const plain = join(scratch, "small-plain");
  writeRender(renderFleet(staging), plain);
  expect(tree(out)).toEqual(tree(plain));

  const config = parseFleetConfig(syntheticFleetConfig(20));
  const again = join(scratch, "again");
  expect(renderCounting(config, again).writers).toBe(1);
  expect(renderCounting(config, again).writers).toBe(0);
});

it("renders into an empty directory that exists, as into a new one", () => {
  const config = parseFleetConfig(syntheticFleetConfig(16));
  const out = join(scratch, "empty");
  mkdirSync(out);
  expect(renderCounting(config, out).writers).toBe(1);
  const plain = join(scratch, "empty-plain");
  writeRender(renderFleet(config), plain);
  expect(tree(out)).toEqual(tree(plain));
});

it("leaves the new directory empty when the render fails halfway, so that the next render may use it", () => {
  const config = parseFleetConfig(syntheticFleetConfig(20));
  const hostBundle = require("../bundle/hostBundle") as typeof import("../bundle/hostBundle");
  const real = hostBundle.buildHostBundle;
  let calls = 0;
  const failing = jest.spyOn(hostBundle, "buildHostBundle").mockImplementation((...args) => {
    if (++calls === 12) throw new Error("a renderer failed");
    return real(...args);
  });
  const out = join(scratch, "failed-halfway");
  mkdirSync(out);
  try {
    expect(() => renderInto(config, out, { codeIdentity: "build-1" })).toThrow("a renderer failed");
  } finally {
    failing.mockRestore();
  }
  expect(calls).toBe(12);
  expect(readdirSync(out)).toEqual([]);
  expect(renderCounting(config, out).writers).toBe(1);
  const plain = join(scratch, "failed-halfway-plain");
  writeRender(renderFleet(config), plain);
  expect(tree(out)).toEqual(tree(plain));
});

describe("the helper thread", () => {
  it("sets every permission bit the umask would take away, and those beyond 0777", () => {
    const dir = join(scratch, "modes");
    mkdirSync(dir);
    const writer = backgroundWriter.startBackgroundWriter();
    const modes = [0o600, 0o644, 0o664, 0o666, 0o755, 0o777, 0o1777, 0o2750, 0o4755];
    writer.write(
      [join(dir, "sub")],
      modes.map((mode) => ({ path: join(dir, "sub", mode.toString(8)), hostPath: `/${mode}`, content: `mode ${mode.toString(8)}\n`, mode })),
    );
    writer.finish();
    expect(modes.map((mode) => (statSync(join(dir, "sub", mode.toString(8))).mode & 0o7777).toString(8))).toEqual(modes.map((m) => m.toString(8)));
    expect(readFileSync(join(dir, "sub", "4755"), "utf8")).toBe("mode 4755\n");
  });

  it("sends a text shared by many files once, and writes it into each", () => {
    const dir = join(scratch, "shared");
    mkdirSync(dir);
    const writer = backgroundWriter.startBackgroundWriter();
    const text = "x".repeat(100_000);
    // Texts are looked up by host path: the same text at another path, and another text between
    // two files of the same one at a path, are each sent again, never mixed up.
    writer.write([], [{ path: join(dir, "a"), hostPath: "/x", content: text, mode: 0o644 }]);
    writer.write([], [{ path: join(dir, "b"), hostPath: "/x", content: text, mode: 0o644 }, { path: join(dir, "c"), hostPath: "/x", content: "other", mode: 0o644 }]);
    writer.write([], [{ path: join(dir, "d"), hostPath: "/x", content: text, mode: 0o644 }, { path: join(dir, "e"), hostPath: "/y", content: text, mode: 0o644 }]);
    writer.write([], [{ path: join(dir, "f"), hostPath: "/y", content: `${text}`, mode: 0o644 }, { path: join(dir, "g"), hostPath: "/x", content: "other", mode: 0o644 }]);
    writer.finish();
    const written = ["a", "b", "c", "d", "e", "f", "g"].map((name) => readFileSync(join(dir, name), "utf8"));
    expect(written).toEqual([text, text, "other", text, text, text, "other"]);
  });

  it("stops at the first failure and throws it with the path it names; it overwrites nothing", () => {
    const dir = join(scratch, "failing");
    mkdirSync(dir);
    writeFileSync(join(dir, "there"), "kept\n");
    const writer = backgroundWriter.startBackgroundWriter();
    writer.write([], [{ path: join(dir, "first"), hostPath: "/x", content: "1", mode: 0o644 }]);
    writer.write([], [{ path: join(dir, "no-such-dir", "file"), hostPath: "/x", content: "2", mode: 0o644 }]);
    writer.write([], [{ path: join(dir, "after"), hostPath: "/x", content: "3", mode: 0o644 }]);
    expect(() => writer.finish()).toThrow(`ENOENT: no such file or directory, open '${join(dir, "no-such-dir", "file")}'`);
    expect(readdirSync(dir).sort()).toEqual(["first", "there"]);

    const again = backgroundWriter.startBackgroundWriter();
    again.write([], [{ path: join(dir, "there"), hostPath: "/x", content: "replaced", mode: 0o644 }]);
    expect(() => again.finish()).toThrow(`EEXIST: file already exists, open '${join(dir, "there")}'`);
    expect(readFileSync(join(dir, "there"), "utf8")).toBe("kept\n");
  });
});
