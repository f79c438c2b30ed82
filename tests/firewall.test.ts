/**
 * Remote scraping through a NixOS host's firewall. An exporter that listens on a LAN address for a
 * Prometheus on another host is dropped by the NixOS firewall unless a rule lets that host in; the
 * rule must open the exporter ports to the Prometheus host alone. The iptables rules homefleet
 * renders run for real here, in a network namespace whose INPUT chain is laid out as NixOS's
 * (nixos-fw: loopback and established accepted, everything else refused, extraCommands before the
 * refusal), and TCP connections from a second namespace show who gets through. The nftables form
 * (extraInputRules) is rendered and parsed but not run: no nft binary here.
 */
import { spawnSync } from "node:child_process";
import { parseFleetConfig } from "../config/load";
import { renderFleet } from "../bundle/hostBundle";

jest.setTimeout(60_000);

function fleet(prometheusAddress: string) {
  return renderFleet(
    parseFleetConfig({
      hosts: {
        pi: { address: "10.250.0.2", arch: "aarch64", os: "nixos", monitoring: { listenAddress: "10.250.0.2" } },
        box: { address: prometheusAddress, arch: "x86_64", os: "systemd", monitoring: { listenAddress: "127.0.0.1" } },
      },
      stacks: { app: { host: "pi", kind: "container", network: { subnet: "10.89.7.0/24" }, container: { image: "docker.io/library/nginx:1.27.3", port: 8080, healthCheck: { path: "/" } }, cache: {} } },
      monitoring: { prometheusHost: "box" },
    }),
  );
}

const render = fleet("10.250.0.12");
const pi = render.bundles.find((b) => b.host.name === "pi")!;
const operationsNix = pi.files.find((f) => f.path.endsWith("/operations.nix"))!.content;

describe("the model and the rendered NixOS module", () => {
  it("open every exporter port of the scraped host to the Prometheus host's address alone", () => {
    expect(pi.host.scrapedBy).toEqual({ address: "10.250.0.12", ports: [9100, 9115, 9121] });
    expect(render.bundles.find((b) => b.host.name === "box")!.host.scrapedBy).toBeUndefined();
    expect(operationsNix).toContain("extraCommands = lib.mkIf (!config.networking.nftables.enable) ''");
    expect(operationsNix).toContain('extraInputRules = lib.mkIf config.networking.nftables.enable "ip saddr 10.250.0.12 tcp dport { 9100, 9115, 9121 } accept');
    // The exporters themselves never open the firewall to everyone.
    expect(operationsNix).not.toMatch(/openFirewall = true/);
  });

  it("order the exporters on a LAN address after the network is up", () => {
    expect(operationsNix).toMatch(/prometheus-node-exporter = \{\s*after = \[ "network-online.target" \];\s*wants = \[ "network-online.target" \];/);
    expect(pi.host.operations.services.find((s) => s.name === "homefleet-redis-exporter-app")!.after).toContain("network-online.target");
  });

  it("say so when the Prometheus host is known by a name a firewall rule cannot use", () => {
    const named = fleet("box.lan");
    expect(named.bundles.find((b) => b.host.name === "pi")!.host.scrapedBy).toBeUndefined();
    expect(named.warnings).toContain('the firewall of pi cannot open its exporter ports to box: that host\'s address "box.lan" is a name, and a firewall rule needs an IPv4 address; set homefleet:hosts.box.address to one');
  });
});

describe("the iptables rules, run in a network namespace laid out like NixOS's firewall", () => {
  const id = String(process.pid % 100000);
  const target = `hf-fw-t${id}`;
  const peer = `hf-fw-p${id}`;
  const sh = (script: string) => spawnSync("bash", ["-euo", "pipefail", "-c", script], { encoding: "utf8" });
  const inTarget = (cmd: string) => `ip netns exec ${target} ${cmd}`;

  beforeAll(() => {
    const extraCommands = operationsNix.match(/extraCommands = lib\.mkIf \(!config\.networking\.nftables\.enable\) ''\n([\s\S]*?)\n\s*'';/)![1];
    const rules = extraCommands.split("\n").map((l) => l.trim()).filter(Boolean);
    expect(rules).toHaveLength(3);
    const setup = sh(`
      ip netns add ${target}; ip netns add ${peer}
      ip link add hfv0-${id} type veth peer name hfv1-${id}
      ip link set hfv0-${id} netns ${target}; ip link set hfv1-${id} netns ${peer}
      ip -n ${target} addr add 10.250.0.2/24 dev hfv0-${id}; ip -n ${target} link set hfv0-${id} up; ip -n ${target} link set lo up
      ip -n ${peer} addr add 10.250.0.12/24 dev hfv1-${id}; ip -n ${peer} addr add 10.250.0.13/24 dev hfv1-${id}; ip -n ${peer} link set hfv1-${id} up
      ${inTarget("iptables -N nixos-fw-accept")}; ${inTarget("iptables -A nixos-fw-accept -j ACCEPT")}
      ${inTarget("iptables -N nixos-fw-refuse")}; ${inTarget("iptables -A nixos-fw-refuse -j DROP")}
      ${inTarget("iptables -N nixos-fw")}
      ${inTarget("iptables -A nixos-fw -i lo -j nixos-fw-accept")}
      ${inTarget("iptables -A nixos-fw -m conntrack --ctstate ESTABLISHED,RELATED -j nixos-fw-accept")}
      ${rules.map(inTarget).join("\n")}
      ${inTarget("iptables -A nixos-fw -j nixos-fw-refuse")}
      ${inTarget("iptables -A INPUT -j nixos-fw")}
    `);
    if (setup.status !== 0) throw new Error(`namespace setup failed: ${setup.stderr}`);
  });

  afterAll(() => {
    sh(`ip netns pids ${target} | xargs -r kill; ip netns del ${target} || true; ip netns del ${peer} || true`);
  });

  /** A TCP connection from SOURCE in the peer namespace to PORT on the target, with a listener there. */
  function connects(source: string, port: number): boolean {
    const server = `require("net").createServer((s) => s.end("ok")).listen(${port}, "10.250.0.2"); setTimeout(() => process.exit(0), 4000)`;
    const client = `const s = require("net").connect({ host: "10.250.0.2", port: ${port}, localAddress: "${source}" }); s.on("connect", () => { console.log("connected"); process.exit(0) }); s.on("error", () => process.exit(1)); setTimeout(() => process.exit(2), 1500)`;
    const r = sh(`${inTarget(`node -e '${server}'`)} & sleep 0.5; ip netns exec ${peer} node -e '${client}'; wait`);
    return r.stdout.includes("connected");
  }

  it("let the Prometheus host's address reach every exporter port", () => {
    for (const port of [9100, 9115, 9121]) expect({ port, connects: connects("10.250.0.12", port) }).toEqual({ port, connects: true });
  });

  it("keep every other address out, and every other port closed", () => {
    expect(connects("10.250.0.13", 9100)).toBe(false);
    expect(connects("10.250.0.12", 9200)).toBe(false);
  });
});
