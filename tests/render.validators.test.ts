/**
 * Every file rendered from both committed stack files (and the operations fixture) passes the
 * real validators.
 */
import { renderedFleets } from "./support/fleets";
import { nixParse, shellcheck, verifyUnits } from "./support/validators";

const renders = renderedFleets();

const cases = Object.entries(renders).flatMap(([stack, render]) => render.bundles.map((b) => [stack, b.host.name, b] as const));

describe.each(cases)("stack %s, host %s", (_stack, _host, bundle) => {
  const nixFiles = bundle.files.filter((f) => f.path.endsWith(".nix"));
  const scripts = bundle.files.filter((f) => f.content.startsWith("#!/bin/bash"));

  it("renders files of its flavour", () => {
    if (bundle.host.os === "nixos") {
      expect(nixFiles.length).toBeGreaterThanOrEqual(3);
      expect(bundle.files.some((f) => f.path.startsWith("/etc/systemd/system/"))).toBe(false);
    } else {
      expect(nixFiles).toHaveLength(0);
      expect(bundle.files.filter((f) => f.path.endsWith(".service")).length).toBeGreaterThanOrEqual(3);
    }
    expect(scripts.length).toBeGreaterThanOrEqual(1);
  });

  it("writes Nix that nix-instantiate --parse accepts", () => {
    for (const f of nixFiles) {
      const result = nixParse(f.content);
      expect({ file: f.path, status: result.status, stderr: result.stderr }).toEqual({ file: f.path, status: 0, stderr: "" });
    }
  });

  it("writes scripts that shellcheck passes without a single finding", () => {
    for (const f of scripts) {
      const result = shellcheck(f.content);
      expect({ file: f.path, status: result.status, findings: result.stdout }).toEqual({ file: f.path, status: 0, findings: "" });
    }
  });

  if (bundle.host.os === "systemd") {
    it("writes units that systemd-analyze verify accepts with no output at all", () => {
      const result = verifyUnits(bundle.files);
      expect(result.units.length).toBeGreaterThanOrEqual(3);
      expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: "", stderr: "" });
    });
  }
});

describe("the validators themselves", () => {
  it("systemd-analyze verify reports a unit with an invalid CPU quota", () => {
    const bad = { path: "/etc/systemd/system/bad.service", mode: "0644", content: "[Service]\nExecStart=/bin/true\nCPUQuota=350\n" };
    const result = verifyUnits([bad]);
    expect(result.stderr).toMatch(/Invalid CPU quota/);
  });

  it("systemd-analyze verify reports an executable that is neither rendered nor installed", () => {
    const bad = { path: "/etc/systemd/system/bad.service", mode: "0644", content: "[Service]\nExecStart=/usr/local/lib/homefleet/not-there\n" };
    expect(verifyUnits([bad]).status).not.toBe(0);
  });

  it("nix-instantiate --parse reports an undefined variable", () => {
    expect(nixParse("{ lib, ... }: { x = pkgs.hello; }").status).not.toBe(0);
  });

  it("shellcheck reports an unquoted expansion", () => {
    expect(shellcheck('#!/bin/bash\nrm -rf $1\n').stdout).toMatch(/SC2086/);
  });
});
