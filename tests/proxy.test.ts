/**
 * The reverse proxy (homefleet:hosts.<host>.proxy): config refusals, what each flavour renders,
 * the review's checks, and the rendered Debian configuration run by a real nginx in its own
 * network and mount namespace: TLS with the certificate at the rendered path, forwarding to the
 * upstream, the redirect to HTTPS, and HTTP-01 challenges forwarded to the certificate's responder.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { parseFleetConfig, type ConfigProblem } from "../config/load";
import { reviewFleet } from "../review";
import { nixEvalJson, nixParse } from "./support/validators";
import { configProblems } from "./support/configProblems";

jest.setTimeout(60_000);

type Raw = { hosts: Record<string, any>; stacks: Record<string, any> };

function base(os: "systemd" | "nixos" = "systemd"): Raw {
  return {
    hosts: {
      web: {
        address: "192.0.2.20",
        arch: "x86_64",
        os,
        certificates: {
          site: { domains: ["app.example.test", "www.example.test"], issuer: "acme", acme: { email: "ops@example.test", httpPort: 8402 }, ...(os === "nixos" ? { group: "nginx" } : {}) },
          db: { domains: ["db.example.test"], issuer: "acme", acme: { email: "ops@example.test", httpPort: 8403 } },
        },
        proxy: {
          vhosts: {
            app: { domains: ["app.example.test", "www.example.test"], certificate: "site", upstream: { stack: "app" }, websockets: true, maxBodySize: "50m", readTimeoutSec: 300 },
          },
        },
      },
    },
    stacks: {
      app: { host: "web", kind: "container", network: { subnet: "10.89.5.0/24" }, container: { image: "docker.io/library/nginx:1.27.3", port: 8080, publish: { hostPort: 18080 }, healthCheck: { path: "/" } } },
    },
  };
}

const render = (raw: Raw) => renderFleet(parseFleetConfig(raw));
const fileOf = (raw: Raw, path: string) => render(raw).bundles[0].files.find((f) => f.path.endsWith(path))!;

const problems = (raw: Raw): ConfigProblem[] => configProblems(raw);

describe("config", () => {
  it("accepts the base fleet", () => {
    expect(() => parseFleetConfig(base())).not.toThrow();
    expect(() => parseFleetConfig(base("nixos"))).not.toThrow();
  });

  it("refuses an unknown certificate and an unknown stack, naming the paths", () => {
    const raw = base();
    raw.hosts.web.proxy.vhosts.app.certificate = "nope";
    raw.hosts.web.proxy.vhosts.app.upstream = { stack: "ghost" };
    expect(problems(raw)).toEqual([
      { path: "homefleet:hosts.web.proxy.vhosts.app.certificate", message: 'unknown certificate "nope" (certificates of host web: db, site)' },
      { path: "homefleet:hosts.web.proxy.vhosts.app.upstream.stack", message: 'unknown stack "ghost" (stacks: app)' },
    ]);
  });

  it("refuses a stack of another host as upstream", () => {
    const raw = base();
    raw.hosts.other = { address: "192.0.2.21", arch: "x86_64", os: "systemd" };
    raw.stacks.app.host = "other";
    expect(problems(raw).map((p) => p.path)).toEqual(["homefleet:hosts.web.proxy.vhosts.app.upstream.stack"]);
  });

  it("refuses a certificate responder on port 80, which the proxy holds, and says what to do", () => {
    const raw = base();
    raw.hosts.web.certificates.db.acme.httpPort = 80;
    const [p] = problems(raw);
    expect(p.path).toBe("homefleet:hosts.web.certificates.db.acme.httpPort");
    expect(p.message).toContain("already used by homefleet:hosts.web.proxy");
    expect(p.message).toContain("such as 8402");
  });

  it("refuses a served certificate that reloads another unit, and on NixOS one nginx cannot read", () => {
    const raw = base();
    raw.hosts.web.certificates.site.reloadUnit = "apache2.service";
    expect(problems(raw).map((p) => p.path)).toEqual(["homefleet:hosts.web.certificates.site.reloadUnit"]);
    const nixos = base("nixos");
    delete nixos.hosts.web.certificates.site.group;
    expect(problems(nixos)).toEqual([expect.objectContaining({ path: "homefleet:hosts.web.certificates.site.group", message: expect.stringContaining("set group: nginx") })]);
  });

  it("refuses one name proven on two responder ports behind the proxy; on one port the names share a server", () => {
    const raw = base();
    raw.hosts.web.certificates.www = { domains: ["www.example.test"], issuer: "acme", acme: { email: "ops@example.test", httpPort: 8404 } };
    expect(problems(raw)).toEqual([expect.objectContaining({ path: "homefleet:hosts.web.certificates.www", message: expect.stringContaining("give both the same httpPort") })]);
    raw.hosts.web.certificates.www.acme.httpPort = 8402;
    const conf = fileOf(raw, "/etc/nginx/conf.d/homefleet-proxy.conf").content;
    expect(conf.match(/server_name [^;]*www\.example\.test/g)).toEqual(["server_name app.example.test www.example.test", "server_name app.example.test www.example.test"]);
  });

  it("refuses upstream URLs nginx would parse, wildcards and stacks on 443", () => {
    const raw = base();
    raw.hosts.web.proxy.vhosts.app.upstream = { url: "http://127.0.0.1:8080/;return 200" };
    raw.hosts.web.proxy.vhosts.app.domains = ["*.example.test"];
    expect(problems(raw).map((p) => p.path).sort()).toEqual(["homefleet:hosts.web.proxy.vhosts.app.domains.0", "homefleet:hosts.web.proxy.vhosts.app.upstream.url"]);
    const clash = base();
    clash.stacks.app.container.publish.hostPort = 443;
    expect(problems(clash)).toEqual([expect.objectContaining({ path: "homefleet:stacks.app.container.publish.hostPort", message: expect.stringContaining("already used by homefleet:hosts.web.proxy") })]);
  });
});

describe("rendering", () => {
  it("Debian: one server per virtual host and one port-80 server per certificate, nginx installed, restarted when the file changes", () => {
    const fleet = render(base());
    const bundle = fleet.bundles[0];
    const conf = bundle.files.find((f) => f.path === "/etc/nginx/conf.d/homefleet-proxy.conf")!.content;
    expect(conf).toContain("listen 0.0.0.0:443 ssl http2;");
    expect(conf).toContain("server_name app.example.test www.example.test;");
    expect(conf).toContain("ssl_certificate /var/lib/homefleet/certs/site/site.crt;");
    expect(conf).toContain("ssl_certificate_key /var/lib/homefleet/certs/site/site.key;");
    expect(conf).toContain("proxy_pass http://127.0.0.1:18080;");
    expect(conf).toContain("client_max_body_size 50m;");
    expect(conf).toContain("proxy_read_timeout 300s;");
    expect(conf).toContain("proxy_set_header Upgrade $http_upgrade;");
    expect(conf).toContain("server_name db.example.test;");
    expect(conf).toContain("proxy_pass http://127.0.0.1:8403;");
    expect(bundle.manifest.packages).toContain("nginx");
    expect(bundle.manifest.files.find((f) => f.path === "/etc/nginx/conf.d/homefleet-proxy.conf")!.restart).toEqual(["nginx.service"]);
    expect(bundle.manifest.start).toContain("nginx.service");
    // A renewal of the served certificate reloads nginx; the other certificate reloads nothing.
    const renewal = (name: string) => bundle.host.operations.services.find((s) => s.name === `homefleet-cert-${name}`)!.execStart[0].args[5];
    expect([renewal("site"), renewal("db")]).toEqual(["nginx.service", "-"]);
  });

  it("NixOS: nixpkgs' nginx module with certificate paths as strings, the firewall opened for 80 and 443", () => {
    const hostNix = fileOf(base("nixos"), "/host.nix").content;
    expect(nixParse(hostNix).status).toBe(0);
    // Evaluated for real: the module is a function of lib and pkgs, which this part does not use.
    const dir = mkdtempSync(join(tmpdir(), "hf-proxy-nix-"));
    try {
      writeFileSync(join(dir, "host.nix"), hostNix);
      const evaluated = nixEvalJson(`let m = import ${dir}/host.nix { lib = {}; pkgs = {}; }; in { nginx = m.services.nginx; firewall = m.networking.firewall; }`) as any;
      expect(evaluated.firewall).toEqual({ allowedTCPPorts: [80, 443] });
      expect(evaluated.nginx).toMatchObject({ enable: true, recommendedProxySettings: true, recommendedTlsSettings: true });
      expect(evaluated.nginx.virtualHosts.app).toEqual({
        serverName: "app.example.test",
        serverAliases: ["www.example.test"],
        onlySSL: true,
        listen: [{ addr: "0.0.0.0", port: 443, ssl: true }],
        sslCertificate: "/var/lib/homefleet/certs/site/site.crt",
        sslCertificateKey: "/var/lib/homefleet/certs/site/site.key",
        extraConfig: "client_max_body_size 50m;\n",
        locations: { "/": { proxyPass: "http://127.0.0.1:18080", proxyWebsockets: true, extraConfig: "proxy_read_timeout 300s;\n" } },
      });
      expect(evaluated.nginx.virtualHosts["acme-challenge-8403"]).toEqual({
        serverName: "db.example.test",
        serverAliases: [],
        listen: [{ addr: "0.0.0.0", port: 80, ssl: false }],
        locations: { "/.well-known/acme-challenge/": { proxyPass: "http://127.0.0.1:8403" }, "/": { return: "301 https://$host$request_uri" } },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("review", () => {
  const findings = (raw: Raw) => {
    const config = parseFleetConfig(raw);
    return reviewFleet({ config, render: renderFleet(config) }).findings.filter((f) => f.check.startsWith("proxy-"));
  };

  it("finds nothing wrong with the base fleet", () => {
    expect(findings(base())).toEqual([]);
  });

  it("proxy-certificate: a name the certificate does not carry blocks", () => {
    const raw = base();
    raw.hosts.web.proxy.vhosts.app.domains = ["app.example.test", "api.example.test"];
    const [f] = findings(raw);
    expect(f).toMatchObject({ check: "proxy-certificate", severity: "error", path: "homefleet:hosts.web.proxy.vhosts.app" });
    expect(f.message).toContain("api.example.test");
  });

  it("proxy-upstream: a URL where nothing on the host listens", () => {
    const raw = base();
    raw.hosts.web.proxy.vhosts.app.upstream = { url: "http://127.0.0.1:9999" };
    expect(findings(raw)).toEqual([expect.objectContaining({ check: "proxy-upstream", severity: "warning", path: "homefleet:hosts.web.proxy.vhosts.app.upstream" })]);
    raw.hosts.web.proxy.vhosts.app.upstream = { url: "http://127.0.0.1:18080/app" };
    expect(findings(raw)).toEqual([]);
  });
});

describe("the rendered Debian configuration in a real nginx", () => {
  it("serves TLS at the rendered certificate paths, forwards, redirects, and passes challenges to the right responder", () => {
    // Like every validator here, a missing tool fails the test (.ci/run installs them; namespaces need root).
    const missing = ["nginx", "unshare", "openssl", "curl", "python3", "ip"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
    expect(missing).toEqual([]);
    const raw = base();
    raw.hosts.web.proxy.vhosts.app.upstream = { url: "http://127.0.0.1:18080" };
    // A second certificate for one of the names, on the same responder port: one port-80 server.
    raw.hosts.web.certificates.www = { domains: ["www.example.test"], issuer: "acme", acme: { email: "ops@example.test", httpPort: 8402 } };
    const conf = fileOf(raw, "/etc/nginx/conf.d/homefleet-proxy.conf").content;
    const dir = mkdtempSync(join(tmpdir(), "hf-nginx-"));
    try {
      mkdirSync(join(dir, "conf.d"));
      writeFileSync(join(dir, "conf.d/homefleet-proxy.conf"), conf);
      // What Debian's nginx.conf does around conf.d, with its paths in the scratch directory.
      writeFileSync(
        join(dir, "nginx.conf"),
        [
          `pid ${dir}/nginx.pid;`,
          `error_log ${dir}/error.log;`,
          "events {}",
          "http {",
          "  access_log off;",
          ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${dir}/${t};`),
          `  include ${dir}/conf.d/*.conf;`,
          "}",
          "",
        ].join("\n"),
      );
      mkdirSync(join(dir, "upstream"));
      writeFileSync(join(dir, "upstream/hello.txt"), "hello from the upstream\n");
      mkdirSync(join(dir, "responder/.well-known/acme-challenge"), { recursive: true });
      writeFileSync(join(dir, "responder/.well-known/acme-challenge/token-1"), "token-1.key-authorization\n");
      const script = `
        set -eu
        D=${dir}
        # The two file servers end with the script, whatever ends it.
        trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
        ip link set lo up
        # The certificate where the rendered configuration looks for it, in this namespace only.
        mount -t tmpfs tmpfs /var/lib
        mkdir -p /var/lib/homefleet/certs/site
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=app.example.test \\
          -addext "subjectAltName=DNS:app.example.test,DNS:www.example.test" \\
          -keyout /var/lib/homefleet/certs/site/site.key -out /var/lib/homefleet/certs/site/site.crt 2>/dev/null
        python3 -m http.server 18080 --bind 127.0.0.1 --directory $D/upstream >/dev/null 2>&1 &
        python3 -m http.server 8403 --bind 127.0.0.1 --directory $D/responder >/dev/null 2>&1 &
        echo "warnings: $(nginx -t -c $D/nginx.conf 2>&1 | grep -c warn || true)"
        nginx -t -c $D/nginx.conf 2>&1 | tail -1
        nginx -c $D/nginx.conf
        for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18080/ && curl -s -o /dev/null http://127.0.0.1:8403/ && break; sleep 0.1; done
        echo "tls: $(curl -sS --resolve www.example.test:443:127.0.0.1 --cacert /var/lib/homefleet/certs/site/site.crt https://www.example.test/hello.txt)"
        echo "redirect: $(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' --resolve app.example.test:80:127.0.0.1 http://app.example.test/hello.txt)"
        echo "challenge: $(curl -sS --resolve db.example.test:80:127.0.0.1 http://db.example.test/.well-known/acme-challenge/token-1)"
        echo "other challenge: $(curl -sS -o /dev/null -w '%{http_code}' --resolve app.example.test:80:127.0.0.1 http://app.example.test/.well-known/acme-challenge/token-1)"
        kill $(cat $D/nginx.pid)
      `;
      const result = spawnSync("unshare", ["--mount", "--net", "--fork", "bash", "-c", script], { encoding: "utf8" });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
      const lines = result.stdout.trim().split("\n");
      expect(lines).toEqual([
        "warnings: 0",
        expect.stringMatching(/test is successful$/),
        "tls: hello from the upstream",
        "redirect: 301 https://app.example.test/hello.txt",
        "challenge: token-1.key-authorization",
        // app's names go to site's responder on 8402, where nothing answers here: not db's token.
        "other challenge: 502",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
