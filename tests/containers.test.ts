/**
 * Containers beyond one HTTP port (issue 16, capabilities 7 and 4): further TCP and UDP ports,
 * devices, and stack-to-stack links. Each config error names its path; each rendering is checked
 * on both flavours and passes the real validators; the review finds no error in a valid fleet and
 * tells a TCP from a UDP socket on the same port.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet, type FleetRender } from "../bundle/hostBundle";
import { ConfigError, formatProblem, loadStackFile, parseFleetConfig, type ConfigProblem } from "../config/load";
import { reviewFleet } from "../review";
import type { ListenerSpec } from "../model/specs";
import { nixEvalJson, nixParse, verifyUnits } from "./support/validators";

const FIXTURE = join(__dirname, "fixtures", "containers.yaml");

type Raw = Record<string, any>;

function host(os: "systemd" | "nixos" = "systemd"): Raw {
  return { address: "192.0.2.10", arch: "x86_64", os };
}

/** A generic container stack on `box`, on its own bridge. */
function stack(subnet: string, extra: Raw = {}, container: Raw = {}): Raw {
  return {
    host: "box",
    network: { subnet },
    container: { image: "docker.io/example/app:1.0.0", port: 8080, healthCheck: { path: "/health" }, ...container },
    ...extra,
  };
}

function problemsOf(stacks: Raw, hosts: Raw = { box: host() }): ConfigProblem[] {
  try {
    parseFleetConfig({ hosts, stacks });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error("the config was accepted");
}

function accepted(stacks: Raw, hosts: Raw = { box: host() }) {
  return parseFleetConfig({ hosts, stacks });
}

describe("config: devices", () => {
  it.each([
    ["/dev/sda"],
    ["/dev/sdb1"],
    ["/dev/nvme0n1"],
    ["/dev/nvme0n1p2"],
    ["/dev/mapper/vg0-root"],
    ["/dev/disk/by-id/ata-WDC_WD40"],
    ["/dev/dm-0"],
    ["/dev/md0"],
    ["/dev/zvol/tank/vm"],
    ["/dev/loop0"],
    ["/dev/mem"],
  ])("refuses the disk (or raw memory) %s, naming the config path", (device) => {
    const problems = problemsOf({ app: stack("10.89.0.0/24", {}, { devices: ["/dev/dri", device] }) });
    expect(problems).toEqual([{ path: "homefleet:stacks.app.container.devices.1", message: expect.stringContaining("is a disk, a disk controller or raw memory") }]);
  });

  it.each([["/etc/passwd"], ["dri"], ["/dev"], ["/dev/"]])("refuses %s: not a device path under /dev", (device) => {
    const problems = problemsOf({ app: stack("10.89.0.0/24", {}, { devices: [device] }) });
    expect(problems).toEqual([{ path: "homefleet:stacks.app.container.devices.0", message: expect.stringContaining("expected a device path under /dev") }]);
  });

  it.each([["/dev/../sda"], ["/dev/dri/"], ["/dev//sda"]])("refuses %s: not a normalized path (it could name a disk)", (device) => {
    const problems = problemsOf({ app: stack("10.89.0.0/24", {}, { devices: [device] }) });
    expect(problems).toEqual([{ path: "homefleet:stacks.app.container.devices.0", message: expect.stringContaining("expected a normalized path under /dev") }]);
  });

  it("accepts GPUs and other character devices", () => {
    const config = accepted({ app: stack("10.89.0.0/24", {}, { devices: ["/dev/dri", "/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/kfd", "/dev/net/tun", "/dev/ttyUSB0"] }) });
    expect(config.stacks.app.container!.devices).toHaveLength(7);
  });

  it("points at the device's line in the stack file", () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-containers-"));
    try {
      const file = join(dir, "Pulumi.test.yaml");
      writeFileSync(
        file,
        [
          "config:",
          "  homefleet:hosts:",
          "    box: { address: 192.0.2.10, arch: x86_64, os: systemd }",
          "  homefleet:stacks:",
          "    app:",
          "      host: box",
          "      network: { subnet: 10.89.0.0/24 }",
          "      container:",
          "        image: docker.io/example/app:1.0.0",
          "        port: 8080",
          "        healthCheck: { path: /health }",
          "        devices:",
          "          - /dev/dri",
          "          - /dev/sdb",
          "",
        ].join("\n"),
      );
      let thrown: unknown;
      try {
        loadStackFile(file);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).problems.map(formatProblem)).toEqual([expect.stringMatching(new RegExp(`^${file}:14:13: homefleet:stacks\\.app\\.container\\.devices\\.1: is a disk`))]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("config: ports", () => {
  it("accepts a TCP and a UDP port on the same number, on one stack and across stacks", () => {
    const config = accepted({
      app: stack("10.89.0.0/24", {}, { ports: [{ container: 8080, protocol: "udp" }] }),
      dns: stack("10.89.1.0/24", {}, { port: 8081, ports: [{ container: 53, hostPort: 5353, protocol: "udp" }, { container: 53, hostPort: 5353 }] }),
    });
    expect(config.stacks.app.container!.ports).toEqual([{ container: 8080, protocol: "udp", address: "127.0.0.1" }]);
  });

  it("refuses a UDP port another stack publishes already, at the second one's hostPort", () => {
    const problems = problemsOf({
      a: stack("10.89.0.0/24", {}, { ports: [{ container: 9000, hostPort: 5353, protocol: "udp" }] }),
      b: stack("10.89.1.0/24", {}, { port: 8081, ports: [{ container: 53, hostPort: 5353, protocol: "udp" }] }),
    });
    expect(problems).toEqual([{ path: "homefleet:stacks.b.container.ports.0.hostPort", message: "UDP port 5353 on host box is already used by homefleet:stacks.a.container.ports.0.hostPort" }]);
  });

  it("refuses a further TCP port on the main port", () => {
    const problems = problemsOf({ app: stack("10.89.0.0/24", {}, { ports: [{ container: 8080 }] }) });
    expect(problems).toEqual([{ path: "homefleet:stacks.app.container.ports.0", message: "port 8080 on host box is already used by homefleet:stacks.app.container.publish.hostPort" }]);
  });

  it("refuses ports on host networking, where podman publishes nothing", () => {
    const problems = problemsOf({ app: stack("10.89.0.0/24", { network: { mode: "host" } }, { ports: [{ container: 53, protocol: "udp" }] }) });
    expect(problems).toEqual([{ path: "homefleet:stacks.app.container.ports.0", message: expect.stringContaining("network.mode host publishes no ports") }]);
  });

  it("refuses an unknown protocol", () => {
    const problems = problemsOf({ app: stack("10.89.0.0/24", {}, { ports: [{ container: 53, protocol: "sctp" }] }) });
    expect(problems).toEqual([{ path: "homefleet:stacks.app.container.ports.0.protocol", message: expect.stringContaining('expected one of "tcp"|"udp"') }]);
  });
});

describe("config: links", () => {
  const two = (links: Raw[], extra: Raw = {}): Raw => ({
    qdrant: stack("10.89.2.0/24", {}, { port: 6333 }),
    aidb: stack("10.89.3.0/24", { links, ...extra }, { port: 8091 }),
  });

  it("accepts a link to a stack on the same host", () => {
    expect(accepted(two([{ stack: "qdrant" }])).stacks.aidb.links).toEqual([{ stack: "qdrant" }]);
  });

  it("refuses an unknown stack, listing the others", () => {
    expect(problemsOf(two([{ stack: "qdrnt" }]))).toEqual([{ path: "homefleet:stacks.aidb.links.0.stack", message: 'unknown stack "qdrnt" (stacks: qdrant)' }]);
  });

  it("refuses a link to itself", () => {
    expect(problemsOf(two([{ stack: "aidb" }]))).toEqual([{ path: "homefleet:stacks.aidb.links.0.stack", message: expect.stringContaining("cannot link to itself") }]);
  });

  it("refuses a stack on another host", () => {
    const stacks = two([{ stack: "qdrant" }]);
    stacks.qdrant.host = "other";
    expect(problemsOf(stacks, { box: host(), other: { ...host(), address: "192.0.2.11" } })).toEqual([
      { path: "homefleet:stacks.aidb.links.0.stack", message: expect.stringContaining("stack qdrant runs on host other, this stack on box") },
    ]);
  });

  it("refuses a cycle", () => {
    const stacks = two([{ stack: "qdrant" }]);
    stacks.qdrant.links = [{ stack: "aidb" }];
    expect(problemsOf(stacks)).toEqual([{ path: "homefleet:stacks.aidb.links", message: "links form a cycle: aidb -> qdrant -> aidb (each container starts after the ones it links to)" }]);
  });

  it("refuses a longer cycle", () => {
    const stacks: Raw = { ...two([{ stack: "qdrant" }]), third: stack("10.89.4.0/24", { links: [{ stack: "aidb" }] }, { port: 8092 }) };
    stacks.qdrant.links = [{ stack: "third" }];
    expect(problemsOf(stacks)).toEqual([{ path: "homefleet:stacks.aidb.links", message: expect.stringContaining("aidb -> qdrant -> third -> aidb") }]);
  });

  it("refuses the same link twice", () => {
    expect(problemsOf(two([{ stack: "qdrant" }, { stack: "qdrant" }]))).toEqual([{ path: "homefleet:stacks.aidb.links.1.stack", message: "stack qdrant is linked twice" }]);
  });

  it("refuses a target on the host's network, which has no bridge to join", () => {
    const stacks = two([{ stack: "qdrant" }]);
    stacks.qdrant.network = { mode: "host" };
    expect(problemsOf(stacks)).toEqual([{ path: "homefleet:stacks.aidb.links.0.stack", message: expect.stringContaining("runs on the host's network and has no bridge to join") }]);
  });

  it("refuses a link from a container on the host's network", () => {
    expect(problemsOf(two([{ stack: "qdrant" }], { network: { mode: "host" } }))).toEqual([{ path: "homefleet:stacks.aidb.links.0.stack", message: expect.stringContaining("cannot join another stack's bridge") }]);
  });

  it("refuses address variables the container sets already", () => {
    const stacks = two([{ stack: "qdrant" }]);
    stacks.aidb.container.environment = { QDRANT_HOST: "qdrant.lan" };
    expect(problemsOf(stacks)).toEqual([{ path: "homefleet:stacks.aidb.links.0", message: "QDRANT_HOST is also set by container.environment: name another prefix with env" }]);
    stacks.aidb.links = [{ stack: "qdrant", env: "VECTORS" }];
    expect(accepted(stacks).stacks.aidb.links).toEqual([{ stack: "qdrant", env: "VECTORS" }]);
  });

  it("refuses an env prefix that is no variable name", () => {
    expect(problemsOf(two([{ stack: "qdrant", env: "1QDRANT" }]))).toEqual([{ path: "homefleet:stacks.aidb.links.0.env", message: expect.stringContaining("expected an environment variable name") }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Rendering: the fixture holds a Debian host (qdrant <- aidb, media with UDP ports and GPUs) and a
// NixOS host (vectors <- search, with a device and a UDP port).

const render = renderFleet(loadStackFile(FIXTURE));
const bundle = (h: string) => render.bundles.find((b) => b.host.name === h)!;
const file = (h: string, path: string) => {
  const f = bundle(h).files.find((x) => x.path === path);
  if (!f) throw new Error(`${h} has no ${path}`);
  return f.content;
};
const lines = (text: string, directive: string) => text.split("\n").filter((l) => l.startsWith(`${directive}=`)).map((l) => l.slice(directive.length + 1));
const podmanArgs = (unit: string) => lines(unit, "ExecStart")[0].split(" ");

describe("Debian rendering", () => {
  const aidb = file("debian", "/etc/systemd/system/podman-aidb.service");
  const qdrant = file("debian", "/etc/systemd/system/podman-qdrant.service");
  const media = file("debian", "/etc/systemd/system/podman-media.service");

  it("joins the linked stack's bridge after its own, and resolves the linked container without DNS", () => {
    const args = podmanArgs(aidb);
    expect(args.filter((a) => a.startsWith("--network="))).toEqual(["--network=hf-aidb", "--network=hf-qdrant"]);
    expect(args).toContain("--add-host=qdrant:10.89.2.254");
    expect(args).toEqual(expect.arrayContaining(["--env=QDRANT_HOST=10.89.2.254", "--env=QDRANT_PORT=6333"]));
  });

  it("gives the linked-to container its fixed address, and keeps podman's leases below it", () => {
    expect(podmanArgs(qdrant).filter((a) => a.startsWith("--network="))).toEqual(["--network=hf-qdrant:ip=10.89.2.254"]);
    const network = JSON.parse(file("debian", "/etc/containers/networks/hf-qdrant.json"));
    expect(network.subnets).toEqual([{ subnet: "10.89.2.0/24", gateway: "10.89.2.1", lease_range: { start_ip: "10.89.2.2", end_ip: "10.89.2.253" } }]);
    // A network nobody links to is written as before.
    expect(JSON.parse(file("debian", "/etc/containers/networks/hf-media.json")).subnets).toEqual([{ subnet: "10.89.4.0/24", gateway: "10.89.4.1" }]);
  });

  it("starts after the linked container (wanting it) and requires its bridge", () => {
    expect(lines(aidb, "Wants")).toEqual(["network-online.target", "podman-qdrant.service"]);
    expect(lines(aidb, "After")).toEqual(["network-online.target", "homefleet-network-aidb.service", "homefleet-network-qdrant.service", "podman-qdrant.service"]);
    expect(lines(aidb, "Requires")).toEqual(["homefleet-network-aidb.service", "homefleet-network-qdrant.service"]);
  });

  it("restarts the linking container when the linked bridge's definition changes", () => {
    const restart = bundle("debian").manifest.files.find((f) => f.path === "/etc/containers/networks/hf-qdrant.json")!.restart;
    expect(restart).toEqual(expect.arrayContaining(["podman-aidb.service", "podman-qdrant.service"]));
  });

  it("publishes every port with its protocol, the main port first", () => {
    expect(podmanArgs(media).filter((a) => a.startsWith("--publish="))).toEqual(["--publish=127.0.0.1:8096:8096", "--publish=127.0.0.1:8096:8096/udp", "--publish=0.0.0.0:7359:7359/udp"]);
    expect(lines(media, "ExecStartPost")[0]).toContain("http://127.0.0.1:8096/health");
  });

  it("passes the devices and allows them in the unit, whose ProtectClock= restricts devices", () => {
    expect(podmanArgs(media).filter((a) => a.startsWith("--device="))).toEqual(["--device=/dev/dri", "--device=/dev/nvidia0"]);
    expect(lines(media, "ProtectClock")).toEqual(["yes"]);
    // /dev/dri is a directory: systemd ignores a directory in DeviceAllow=, so its device group.
    expect(lines(media, "DeviceAllow")).toEqual(["char-drm rwm", "/dev/nvidia0 rwm"]);
    expect(lines(aidb, "DeviceAllow")).toEqual([]);
  });

  it("passes systemd-analyze verify with no output at all", () => {
    const result = verifyUnits(bundle("debian").files);
    expect(result.units).toEqual(expect.arrayContaining(["podman-aidb.service", "podman-qdrant.service", "podman-media.service"]));
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: "", stderr: "" });
  });
});

describe("NixOS rendering", () => {
  const dir = "/etc/nixos/homefleet";

  it("writes modules nix-instantiate --parse accepts", () => {
    const nix = bundle("nixos").files.filter((f) => f.path.endsWith(".nix"));
    expect(nix.length).toBeGreaterThanOrEqual(4);
    for (const f of nix) expect({ file: f.path, ...nixParse(f.content) }).toMatchObject({ file: f.path, status: 0, stderr: "" });
  });

  /** The container's oci-containers attributes, evaluated by Nix itself (nothing else of the module is forced). */
  function container(name: string): Record<string, unknown> {
    const tmp = mkdtempSync(join(tmpdir(), "hf-nix-"));
    try {
      writeFileSync(join(tmp, "m.nix"), file("nixos", `${dir}/${name}.nix`));
      return nixEvalJson(`(import ${tmp}/m.nix { config = {}; lib = { mkForce = x: x; }; pkgs = {}; }).virtualisation.oci-containers.containers.${name}`) as Record<string, unknown>;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  it("uses oci-containers' own ports, devices and networks options", () => {
    const search = container("search");
    expect(search).toMatchObject({
      ports: ["127.0.0.1:8091:8091", "127.0.0.1:15353:5353/udp"],
      devices: ["/dev/dri"],
      networks: ["hf-search", "hf-vectors"],
      environment: { QDRANT_HOST: "10.89.2.254", QDRANT_PORT: "6333" },
    });
    // --network is not repeated in extraOptions when networks carries it.
    expect(search.extraOptions).toEqual(["--add-host=vectors:10.89.2.254", "--memory=1g", "--cpus=1"]);
    expect(container("vectors")).toMatchObject({ networks: ["hf-vectors:ip=10.89.2.254"], extraOptions: ["--memory=1g", "--cpus=1"] });
  });

  it("orders the linking container after the linked one", () => {
    const unit = bundle("nixos").host.units.find((u) => u.name === "podman-search.service")!;
    expect(unit.after).toEqual(expect.arrayContaining(["homefleet-network-vectors.service", "podman-vectors.service"]));
    expect(unit.wants).toContain("podman-vectors.service");
    expect(unit.requires).toContain("homefleet-network-vectors.service");
    expect(file("nixos", `${dir}/search.nix`)).toContain('wants = [ "podman-vectors.service" ];');
  });
});

// ---------------------------------------------------------------------------------------------
// Model and review

describe("listeners and the review", () => {
  it("lists every published port with its protocol", () => {
    const media = bundle("debian").host.stacks.find((s) => s.name === "media")!;
    expect(media.listeners.filter((l) => l.owner === "podman-media.service")).toEqual([
      { address: "127.0.0.1", port: 8096, protocol: "tcp", owner: "podman-media.service" },
      { address: "127.0.0.1", port: 8096, protocol: "udp", owner: "podman-media.service" },
      { address: "0.0.0.0", port: 7359, protocol: "udp", owner: "podman-media.service" },
    ]);
  });

  it("finds no error in the fleet with links, UDP ports and devices", () => {
    const config = loadStackFile(FIXTURE);
    const findings = reviewFleet({ config, render: renderFleet(config) }).findings;
    expect(findings.filter((f) => f.severity === "error")).toEqual([]);
    // The one port published beyond loopback is reported, at its own config path.
    expect(findings.filter((f) => f.check === "published-not-loopback")).toEqual([expect.objectContaining({ path: "homefleet:stacks.media.container.ports.1.address", severity: "warning" })]);
  });

  /** The review over the fixture with one more listener on the Debian host (as a hand-written unit would add). */
  function clashes(extra: ListenerSpec): string[] {
    const config = loadStackFile(FIXTURE);
    const edited = structuredClone(renderFleet(config)) as FleetRender;
    const aidb = edited.model.hosts.find((h) => h.name === "debian")!.stacks.find((s) => s.name === "aidb")!;
    (aidb.listeners as ListenerSpec[]).push(extra);
    return reviewFleet({ config, render: edited })
      .findings.filter((f) => f.check === "port-clash")
      .map((f) => f.message);
  }

  it("port-clash: a UDP socket clashes with a UDP socket on the same port, not with a TCP one", () => {
    expect(clashes({ address: "0.0.0.0", port: 7359, protocol: "udp", owner: "other.service" })).toEqual(["other.service and podman-media.service both listen on 0.0.0.0:7359/udp"]);
    expect(clashes({ address: "0.0.0.0", port: 7359, protocol: "tcp", owner: "other.service" })).toEqual([]);
    expect(clashes({ address: "127.0.0.1", port: 8096, protocol: "tcp", owner: "other.service" })).toEqual(["other.service and podman-media.service both listen on 127.0.0.1:8096"]);
  });
});
