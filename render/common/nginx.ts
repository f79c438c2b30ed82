/**
 * nginx's own configuration of a host's reverse proxy (Debian: a file in /etc/nginx/conf.d, which
 * the packaged nginx.conf includes). Every value comes from the model, validated in config: names,
 * paths and URLs without characters nginx would parse.
 */
import type { ProxySpec } from "../../model/specs";

const HEADER = "# Managed by homefleet: reverse proxy. Hand edits are reported as drift and replaced on the next deployment.\n";

/** `head { … }` with its lines indented (a nested block's lines are indented once more). */
function block(head: string, lines: readonly string[]): string[] {
  return [`${head} {`, ...lines.map((l) => `    ${l}`), "}"];
}

export function renderNginxProxy(proxy: ProxySpec): string {
  const out: string[] = [HEADER.trimEnd()];
  const address = proxy.listenAddress;
  for (const v of proxy.vhosts) {
    const location = [
      `proxy_pass ${v.upstream};`,
      "proxy_http_version 1.1;",
      "proxy_set_header Host $host;",
      "proxy_set_header X-Real-IP $remote_addr;",
      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
      "proxy_set_header X-Forwarded-Proto $scheme;",
      ...(v.websockets ? ["proxy_set_header Upgrade $http_upgrade;", 'proxy_set_header Connection "upgrade";'] : []),
      `proxy_read_timeout ${v.readTimeoutSec}s;`,
    ];
    out.push(
      "",
      `# ${v.name}: ${v.domains.join(", ")} -> ${v.upstream}`,
      ...block("server", [
        `listen ${address}:443 ssl http2;`,
        `server_name ${v.domains.join(" ")};`,
        `ssl_certificate ${v.certFile};`,
        `ssl_certificate_key ${v.keyFile};`,
        "ssl_protocols TLSv1.2 TLSv1.3;",
        `client_max_body_size ${v.maxBodySize};`,
        ...block("location /", location),
      ]),
    );
  }
  for (const c of proxy.challenges) {
    out.push(
      "",
      `# ${c.certificates.join(", ")}: HTTP-01 challenges go to the responder on port ${c.port}; everything else to HTTPS.`,
      ...block("server", [
        `listen ${address}:80;`,
        `server_name ${c.domains.join(" ")};`,
        ...block("location /.well-known/acme-challenge/", [`proxy_pass http://127.0.0.1:${c.port};`, "proxy_set_header Host $host;"]),
        ...block("location /", ["return 301 https://$host$request_uri;"]),
      ]),
    );
  }
  return out.join("\n") + "\n";
}
