/**
 * The reverse proxy of a host: nginx ends TLS with homefleet's certificates and forwards each
 * virtual host to a stack of the host (its published port) or to a URL. nginx holds ports 80 and
 * 443, so every certificate's HTTP-01 responder listens on another port and nginx forwards the
 * challenge path of the certificate's names to it; everything else on port 80 is redirected.
 */
import type { HostConfig } from "../config/schema";
import { acmeOrder, certificatePaths } from "./operations";
import { units } from "./paths";
import type { ProxySpec, StackModel } from "./specs";

export function buildProxy(host: HostConfig, stacks: readonly StackModel[]): ProxySpec | undefined {
  const proxy = host.proxy;
  if (!proxy) return undefined;
  const vhosts = Object.keys(proxy.vhosts)
    .sort()
    .map((name) => {
      const v = proxy.vhosts[name];
      const target = "stack" in v.upstream ? v.upstream.stack : undefined;
      const s = target === undefined ? undefined : stacks.find((x) => x.name === target)!;
      // nginx on the host reaches a stack where it is published, a native service where it listens (0.0.0.0 includes loopback).
      const at = s?.container ? { address: s.container.publishAddress, port: s.container.publishPort } : s?.native?.listen;
      const upstream = at ? `http://${at.address === "0.0.0.0" ? "127.0.0.1" : at.address}:${at.port}` : (v.upstream as { url: string }).url.replace(/\/$/, "");
      const files = certificatePaths(v.certificate);
      return {
        name,
        domains: [...v.domains],
        certificate: v.certificate,
        certFile: files.cert,
        keyFile: files.key,
        upstream,
        maxBodySize: v.maxBodySize,
        websockets: v.websockets,
        readTimeoutSec: v.readTimeoutSec,
      };
    });
  // One port-80 server per responder port, each name in exactly one of them (config refuses a name
  // whose certificates answer on different ports): nginx ignores a second server with the same name.
  const byPort = new Map<number, { certificates: string[]; domains: Set<string> }>();
  for (const certificate of Object.keys(host.certificates).sort()) {
    const port = acmeOrder(host.certificates[certificate]).httpPort;
    const group = byPort.get(port) ?? { certificates: [], domains: new Set<string>() };
    group.certificates.push(certificate);
    for (const d of host.certificates[certificate].domains) group.domains.add(d);
    byPort.set(port, group);
  }
  const challenges = [...byPort.keys()].sort((a, b) => a - b).map((port) => ({ certificates: byPort.get(port)!.certificates, domains: [...byPort.get(port)!.domains].sort(), port }));
  return { unit: units.nginx(), listenAddress: proxy.listenAddress, vhosts, challenges };
}
