import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTar } from "../deploy/tar";

describe("the generation upload archive", () => {
  it("is read by GNU tar with contents, modes and long paths intact", () => {
    const long = "files/" + "d".repeat(60) + "/" + "e".repeat(60) + "/" + "f".repeat(60) + ".conf";
    const archive = createTar([
      { path: "manifest.json", mode: 0o644, content: '{"a":1}\n' },
      { path: "files/usr/local/lib/homefleet/homefleet-activate", mode: 0o755, content: "#!/bin/bash\necho hi\n" },
      { path: long, mode: 0o600, content: "x".repeat(1000) + "ü" },
    ]);
    const dir = mkdtempSync(join(tmpdir(), "hf-tar-"));
    const result = spawnSync("tar", ["-x", "-C", dir, "-f", "-"], { input: archive });
    expect({ status: result.status, stderr: result.stderr.toString() }).toEqual({ status: 0, stderr: "" });
    expect(readFileSync(join(dir, "manifest.json"), "utf8")).toBe('{"a":1}\n');
    expect(statSync(join(dir, "files/usr/local/lib/homefleet/homefleet-activate")).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(dir, long), "utf8")).toBe("x".repeat(1000) + "ü");
    expect(statSync(join(dir, long)).mode & 0o777).toBe(0o600);
  });

  it("refuses paths that would escape the extraction directory", () => {
    expect(() => createTar([{ path: "../etc/passwd", mode: 0o644, content: "" }])).toThrow(/unsafe/);
    expect(() => createTar([{ path: "/etc/passwd", mode: 0o644, content: "" }])).toThrow(/unsafe/);
  });
});
