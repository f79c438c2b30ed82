/**
 * Config validation: every problem names its full config path and the reason, and all problems
 * of a config are reported together. Each case starts from a valid config and breaks one thing,
 * so it expects exactly one problem.
 */
import { join } from "node:path";
import { ConfigError, loadStackFile, parseFleetConfig, type ConfigProblem } from "../config/load";
import { buildFleetModel } from "../model/build";
import { acmeOrder } from "../model/operations";

const ROOT = join(__dirname, "..");
const FIXTURES = join(__dirname, "fixtures");
const IMAGE = "ghcr.io/berriai/litellm-database:main-v1.81.3-stable";

type Raw = Record<string, unknown>;

function host(extra: Raw = {}): Raw {
  return { address: "192.0.2.10", arch: "x86_64", os: "systemd", ...extra };
}

/** A valid LiteLLM stack on host `box` with models a, b and c and no fallbacks. */
function litellmStack(extra: Raw = {}): Raw {
  return {
    host: "box",
    kind: "litellm",
    network: { subnet: "10.89.0.0/24" },
    container: { image: IMAGE },
    litellm: { models: [model("a"), model("b"), model("c")] },
    ...extra,
  };
}

function model(name: string, extra: Raw = {}): Raw {
  return { name, model: `openai/${name}`, ...extra };
}

function withContainer(extra: Raw): Raw {
  return litellmStack({ container: { image: IMAGE, ...extra } });
}

function withLiteLLM(extra: Raw): Raw {
  return litellmStack({ litellm: { models: [model("a"), model("b"), model("c")], ...extra } });
}

/** The problems a ConfigError thrown by `run` lists; fails the test if `run` throws nothing or anything else. */
function problemsThrownBy(run: () => unknown): ConfigProblem[] {
  let thrown: unknown;
  try {
    run();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return [...(thrown as ConfigError).problems];
}

function problemsOf(input: { hosts?: unknown; stacks?: unknown; configKeys?: string[]; secretKeys?: string[]; promoteFrom?: unknown }): ConfigProblem[] {
  return problemsThrownBy(() => parseFleetConfig({ hosts: input.hosts, stacks: input.stacks, configKeys: input.configKeys, secretKeys: input.secretKeys, promoteFrom: input.promoteFrom }));
}

const oneHost = { box: host() };

describe("the baseline used by every case below", () => {
  it("is a valid config", () => {
    expect(() => parseFleetConfig({ hosts: oneHost, stacks: { litellm: litellmStack() } })).not.toThrow();
  });
});

describe("wrong values", () => {
  it("rejects a port that is not an integer, quoting the value", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: withContainer({ port: "40o0" }) } })).toEqual([
      { path: "homefleet:stacks.litellm.container.port", message: 'expected integer 1-65535, got "40o0"' },
    ]);
  });

  it("rejects a port above 65535", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: withContainer({ port: 70000 }) } })).toEqual([
      { path: "homefleet:stacks.litellm.container.port", message: "expected integer 1-65535, got 70000" },
    ]);
  });

  it("rejects an SSH port of 0", () => {
    expect(problemsOf({ hosts: { box: host({ port: 0 }) }, stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.port", message: "expected integer 1-65535, got 0" },
    ]);
  });

  it("says what a container stack must name, and the shape of its health check", () => {
    const web = { host: "box", kind: "container", network: { subnet: "10.89.3.0/24" }, container: { image: "docker.io/library/nginx:1.27.3" } };
    expect(problemsOf({ hosts: oneHost, stacks: { web } })).toEqual([
      { path: "homefleet:stacks.web.container.healthCheck", message: "required for kind container: the HTTP path that answers when the service is healthy, as {path: /health}" },
      { path: "homefleet:stacks.web.container.port", message: "required for kind container: the port the service listens on" },
    ]);
  });

  it("rejects an arch that is not one of the supported ones", () => {
    expect(problemsOf({ hosts: { box: host({ arch: "arm" }) }, stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.arch", message: 'expected one of "aarch64"|"x86_64", got "arm"' },
    ]);
  });
});

describe("unknown keys (typos must not pass silently)", () => {
  it("rejects memroyMax in a container", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: withContainer({ memroyMax: "2G" }) } })).toEqual([
      { path: "homefleet:stacks.litellm.container.memroyMax", message: 'unknown key "memroyMax" (did you mean "memoryMax"?)' },
    ]);
  });

  it("rejects an unknown host key", () => {
    expect(problemsOf({ hosts: { box: host({ sshPort: 2222 }) }, stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.sshPort", message: 'unknown key "sshPort"' },
    ]);
  });

  it("rejects an unknown stack key", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: litellmStack({ databse: {} }) } })).toEqual([
      { path: "homefleet:stacks.litellm.databse", message: 'unknown key "databse" (did you mean "database"?)' },
    ]);
  });

  it("rejects an unknown PostgreSQL setting three levels into a host", () => {
    const hosts = { box: host({ postgresql: { settings: { shared_buffer: "128MB" } } }) };
    expect(problemsOf({ hosts, stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.postgresql.settings.shared_buffer", message: 'unknown key "shared_buffer" (did you mean "shared_buffers"?)' },
    ]);
  });

  it("rejects an unknown key in a LiteLLM model, naming the model's index", () => {
    const stacks = { litellm: litellmStack({ litellm: { models: [model("a", { apiKey: "sk-123" })] } }) };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([{ path: "homefleet:stacks.litellm.litellm.models.0.apiKey", message: 'unknown key "apiKey"' }]);
  });

  it("names a misspelt structured homefleet: key in a stack file, with the key it resembles", () => {
    expect(problemsThrownBy(() => loadStackFile(join(FIXTURES, "unknown-structured-key.yaml")))).toEqual([
      { path: "homefleet:stack", message: "unknown key; did you mean homefleet:stacks? (homefleet reads homefleet:hosts, homefleet:stacks, homefleet:monitoring, homefleet:review, homefleet:deploy, homefleet:promoteFrom, homefleet:promoteOverride, homefleet:sshPrivateKey and the secrets the config refers to)", location: { file: join(FIXTURES, "unknown-structured-key.yaml"), line: 8, column: 3 } },
      // A missing key: the object that lacks it.
      { path: "homefleet:stacks", message: "missing: declare at least one stack", location: { file: join(FIXTURES, "unknown-structured-key.yaml"), line: 2, column: 1 } },
    ]);
  });

  it("refuses a misspelt key that would silently turn the promotion gate off", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: litellmStack() }, configKeys: ["hosts", "stacks", "promotFrom"] })).toEqual([
      { path: "homefleet:promotFrom", message: "unknown key; did you mean homefleet:promoteFrom? (homefleet reads homefleet:hosts, homefleet:stacks, homefleet:monitoring, homefleet:review, homefleet:deploy, homefleet:promoteFrom, homefleet:promoteOverride, homefleet:sshPrivateKey and the secrets the config refers to)" },
    ]);
  });

  it("refuses a homefleet: key that nothing reads, without a guess when none is close", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: litellmStack() }, configKeys: ["hosts", "stacks", "grafanaAdminPassword"], secretKeys: ["grafanaAdminPassword"] })).toEqual([
      { path: "homefleet:grafanaAdminPassword", message: "unknown key (homefleet reads homefleet:hosts, homefleet:stacks, homefleet:monitoring, homefleet:review, homefleet:deploy, homefleet:promoteFrom, homefleet:promoteOverride, homefleet:sshPrivateKey and the secrets the config refers to)" },
    ]);
  });
});

describe("missing things", () => {
  it("requires a host's arch", () => {
    const { arch: _arch, ...noArch } = host();
    expect(problemsOf({ hosts: { box: noArch }, stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.arch", message: 'expected one of "aarch64"|"x86_64" (required)' },
    ]);
  });

  it("requires the homefleet:hosts section", () => {
    expect(problemsOf({ stacks: { litellm: litellmStack() } })).toEqual([{ path: "homefleet:hosts", message: "missing: declare at least one host" }]);
  });

  it("requires a stack's host to be declared, listing the hosts there are", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: litellmStack({ host: "bx" }) } })).toEqual([
      { path: "homefleet:stacks.litellm.host", message: 'unknown host "bx" (hosts: box)' },
    ]);
  });

  it("requires a subnet for a bridge network", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: litellmStack({ network: { mode: "bridge" } }) } })).toEqual([
      { path: "homefleet:stacks.litellm.network.subnet", message: "required for a bridge network, e.g. 10.89.0.0/24" },
    ]);
  });

  it("requires a litellm section for kind litellm", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: litellmStack({ litellm: undefined }) } })).toEqual([
      { path: "homefleet:stacks.litellm.litellm", message: "required for kind litellm: declare at least the model list" },
    ]);
  });
});

describe("LiteLLM fallbacks", () => {
  it("rejects a two-model cycle a -> b -> a", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: withLiteLLM({ fallbacks: { a: ["b"], b: ["a"] } }) } })).toEqual([
      { path: "homefleet:stacks.litellm.litellm.fallbacks", message: "fallback cycle: a -> b -> a" },
    ]);
  });

  it("rejects a longer cycle a -> b -> c -> a", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: withLiteLLM({ fallbacks: { a: ["b"], b: ["c"], c: ["a"] } }) } })).toEqual([
      { path: "homefleet:stacks.litellm.litellm.fallbacks", message: "fallback cycle: a -> b -> c -> a" },
    ]);
  });

  it("accepts chains that share a target without forming a cycle", () => {
    const stacks = { litellm: withLiteLLM({ fallbacks: { a: ["b", "c"], b: ["c"] }, contextWindowFallbacks: { c: ["a"] } }) };
    expect(() => parseFleetConfig({ hosts: oneHost, stacks })).not.toThrow();
  });

  it("rejects a fallback to a disabled model", () => {
    const stacks = { litellm: litellmStack({ litellm: { models: [model("a"), model("b", { enabled: false })], fallbacks: { a: ["b"] } } }) };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([{ path: "homefleet:stacks.litellm.litellm.fallbacks.a.0", message: 'fallback to disabled model "b"' }]);
  });

  it("rejects a fallback to an unknown model", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: withLiteLLM({ fallbacks: { a: ["b", "gpt-5"] } }) } })).toEqual([
      { path: "homefleet:stacks.litellm.litellm.fallbacks.a.1", message: 'fallback to unknown model "gpt-5"' },
    ]);
  });
});

describe("images", () => {
  it("refuses :latest", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: withContainer({ image: "ghcr.io/berriai/litellm:latest" }) } })).toEqual([
      { path: "homefleet:stacks.litellm.container.image", message: 'pin the image by tag or digest, not "ghcr.io/berriai/litellm:latest"' },
    ]);
  });

  it("refuses an image without tag or digest, even from a registry with a port", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: withContainer({ image: "registry.lan:5000/litellm" }) } })).toEqual([
      { path: "homefleet:stacks.litellm.container.image", message: 'pin the image by tag or digest, not "registry.lan:5000/litellm"' },
    ]);
  });

  it("accepts an image pinned by digest", () => {
    const stacks = { litellm: withContainer({ image: `ghcr.io/berriai/litellm@sha256:${"a".repeat(64)}` }) };
    expect(() => parseFleetConfig({ hosts: oneHost, stacks })).not.toThrow();
  });
});

describe("secret environment", () => {
  it("refuses database.url when the stack has no database", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { litellm: withContainer({ secretEnvironment: { DB_URL: "database.url" } }) } })).toEqual([
      { path: "homefleet:stacks.litellm.container.secretEnvironment.DB_URL", message: "refers to database.url but the stack has no database" },
    ]);
  });

  it("refuses config:<key> when the stack file has no homefleet:<key>", () => {
    const stacks = { litellm: withContainer({ secretEnvironment: { OPENAI_API_KEY: "config:openaiKey" } }) };
    expect(problemsOf({ hosts: oneHost, stacks, configKeys: ["otherKey"] })).toEqual([
      { path: "homefleet:otherKey", message: "unknown key (homefleet reads homefleet:hosts, homefleet:stacks, homefleet:monitoring, homefleet:review, homefleet:deploy, homefleet:promoteFrom, homefleet:promoteOverride, homefleet:sshPrivateKey and the secrets the config refers to)" },
      {
        path: "homefleet:stacks.litellm.container.secretEnvironment.OPENAI_API_KEY",
        message: "config key homefleet:openaiKey is not set (pulumi config set --secret homefleet:openaiKey < FILE)",
      },
    ]);
  });

  it("refuses a provider key or the deploy key stored in plain text, naming the command that stores it encrypted", () => {
    const stacks = { litellm: withContainer({ secretEnvironment: { OPENAI_API_KEY: "config:openaiKey" } }) };
    expect(problemsOf({ hosts: oneHost, stacks, configKeys: ["openaiKey", "sshPrivateKey"], secretKeys: [] })).toEqual([
      { path: "homefleet:openaiKey", message: "holds a secret but is stored in plain text: set it again with pulumi config set --secret homefleet:openaiKey < FILE" },
      { path: "homefleet:sshPrivateKey", message: "holds a secret but is stored in plain text: set it again with pulumi config set --secret homefleet:sshPrivateKey < FILE" },
    ]);
    expect(() => parseFleetConfig({ hosts: oneHost, stacks, configKeys: ["openaiKey", "sshPrivateKey"], secretKeys: ["openaiKey", "sshPrivateKey"] })).not.toThrow();
  });

  it("accepts config:<key> when the stack file sets homefleet:<key> as a secret", () => {
    const config = loadStackFile(join(FIXTURES, "secret-api-key.yaml"));
    expect(config.configKeys).toContain("openaiKey");
    expect(config.stacks.gateway.container!.secretEnvironment).toEqual({ OPENAI_API_KEY: "config:openaiKey" });
  });
});

describe("clashes between stacks on one host", () => {
  const second = (extra: Raw) => litellmStack({ network: { subnet: "10.89.1.0/24" }, container: { image: IMAGE, publish: { hostPort: 4001 } }, ...extra });

  it("refuses two caches on the same port", () => {
    const stacks = { one: litellmStack({ cache: { port: 6380 } }), two: second({ cache: { port: 6380 } }) };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([
      { path: "homefleet:stacks.two.cache.port", message: "port 6380 on host box is already used by homefleet:stacks.one.cache.port" },
    ]);
  });

  it("refuses a service on the host's SSH port, the one homefleet deploys through", () => {
    expect(problemsOf({ hosts: oneHost, stacks: { one: litellmStack({ cache: { port: 22 } }) } })).toEqual([
      { path: "homefleet:stacks.one.cache.port", message: "port 22 on host box is already used by homefleet:hosts.box.port (the SSH server homefleet deploys through)" },
    ]);
    // The port given for the host, wherever it is.
    const hosts = { box: host({ port: 2222 }) };
    expect(parseFleetConfig({ hosts, stacks: { one: litellmStack({ cache: { port: 22 } }) } }).stacks.one.cache?.port).toBe(22);
    expect(problemsOf({ hosts, stacks: { one: litellmStack({ container: { image: IMAGE, publish: { hostPort: 2222 } } }) } })).toEqual([
      { path: "homefleet:stacks.one.container.publish.hostPort", message: "port 2222 on host box is already used by homefleet:hosts.box.port (the SSH server homefleet deploys through)" },
    ]);
  });

  it("refuses two hosts at one SSH address and port: they are one machine", () => {
    const stacks = { one: litellmStack() };
    expect(problemsOf({ hosts: { box: host({ address: "Box.lan" }), box2: host({ address: "box.LAN" }) }, stacks })).toEqual([
      { path: "homefleet:hosts.box2.address", message: "host box is at box.LAN port 22 too: two hosts there are one machine, and each deployment would replace what the other deployed; declare the machine once" },
    ]);
    // One address, two ports (a router forwarding to two machines): two hosts.
    expect(Object.keys(parseFleetConfig({ hosts: { box: host(), box2: host({ port: 2222 }) }, stacks }).hosts)).toEqual(["box", "box2"]);
  });

  it("allows the same cache port on different hosts", () => {
    const stacks = { one: litellmStack({ cache: { port: 6380 } }), two: second({ host: "pi", cache: { port: 6380 } }) };
    expect(() => parseFleetConfig({ hosts: { box: host(), pi: host({ address: "192.0.2.11", arch: "aarch64", os: "nixos" }) }, stacks })).not.toThrow();
  });

  it("refuses two bridges with the same subnet", () => {
    const stacks = { one: litellmStack(), two: second({ network: { subnet: "10.89.0.0/24" } }) };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([{ path: "homefleet:stacks.two.network.subnet", message: "subnet overlaps 10.89.0.0/24 of stack one on host box" }]);
  });

  it("refuses two bridges whose subnets overlap without being equal", () => {
    const stacks = { one: litellmStack(), two: second({ network: { subnet: "10.89.0.0/16" } }) };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([{ path: "homefleet:stacks.two.network.subnet", message: "subnet overlaps 10.89.0.0/24 of stack one on host box" }]);
  });

  it("allows adjacent subnets on one host", () => {
    const stacks = { one: litellmStack(), two: second({ network: { subnet: "10.89.1.0/24" } }) };
    expect(() => parseFleetConfig({ hosts: oneHost, stacks })).not.toThrow();
  });
});

describe("addresses that do not mean what they seem", () => {
  it("refuses a model on loopback inside a bridged container, naming the gateway to use instead", () => {
    const stacks = { proxy: withLiteLLM({ models: [model("a", { apiBase: "http://127.0.0.1:11434" }), model("b", { apiBase: "http://localhost:8001/v1" }), model("c", { apiBase: "http://[::1]:8002/v1" })] }) };
    const problems = problemsOf({ hosts: oneHost, stacks });
    const fix = "inside the container is the container itself, never the host: reach a provider on the host at the bridge gateway 10.89.0.1 (the provider must listen there) or at host.containers.internal";
    expect(problems).toEqual([
      { path: "homefleet:stacks.proxy.litellm.models.0.apiBase", message: `127.0.0.1 ${fix}` },
      { path: "homefleet:stacks.proxy.litellm.models.1.apiBase", message: `localhost ${fix}` },
      { path: "homefleet:stacks.proxy.litellm.models.2.apiBase", message: `[::1] ${fix}` },
    ]);
  });

  it("accepts loopback on host networking, where it is the host, and the gateway on a bridge", () => {
    expect(() => parseFleetConfig({ hosts: oneHost, stacks: { proxy: litellmStack({ network: { mode: "host" }, litellm: { models: [model("a", { apiBase: "http://127.0.0.1:11434" })] } }) } })).not.toThrow();
    expect(() => parseFleetConfig({ hosts: oneHost, stacks: { proxy: withLiteLLM({ models: [model("a", { apiBase: "http://10.89.0.1:11434" })] }) } })).not.toThrow();
  });

  it("refuses an ACME HTTP-01 port that a stack already listens on", () => {
    const box = host({ certificates: { web: { domains: ["llm.example.org"], issuer: "acme", acme: { email: "ops@example.org", httpPort: 4000 } } } });
    expect(problemsOf({ hosts: { box }, stacks: { proxy: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.certificates.web.acme.httpPort", message: "port 4000 on host box is already used by homefleet:stacks.proxy.container.publish.hostPort: the HTTP-01 responder could not listen during renewal" },
    ]);
  });
});

describe("several problems at once", () => {
  it("reports every schema problem of every section in one error, sorted by path", () => {
    const problems = problemsOf({
      hosts: { box: host({ arch: "arm" }) },
      stacks: { litellm: withContainer({ port: "40o0", memroyMax: "2G" }) },
    });
    expect(problems).toEqual([
      { path: "homefleet:hosts.box.arch", message: 'expected one of "aarch64"|"x86_64", got "arm"' },
      { path: "homefleet:stacks.litellm.container.memroyMax", message: 'unknown key "memroyMax" (did you mean "memoryMax"?)' },
      { path: "homefleet:stacks.litellm.container.port", message: 'expected integer 1-65535, got "40o0"' },
    ]);
  });

  it("reports every cross-key problem in one error", () => {
    const stacks = {
      one: litellmStack({ host: "nowhere" }),
      two: litellmStack({ container: { image: "ghcr.io/berriai/litellm:latest" }, litellm: { models: [model("a"), model("b")], fallbacks: { a: ["b"], b: ["a"] } } }),
    };
    expect(problemsOf({ hosts: oneHost, stacks }).map((p) => p.path)).toEqual([
      "homefleet:stacks.one.host",
      "homefleet:stacks.two.container.image",
      "homefleet:stacks.two.litellm.fallbacks",
    ]);
  });

  it("puts every problem, one per line with its path, in the error message", () => {
    const error = new ConfigError([
      { path: "homefleet:hosts.box.arch", message: "m1" },
      { path: "homefleet:stacks.litellm.container.port", message: "m2" },
    ]);
    expect(error.message).toBe("homefleet:hosts.box.arch: m1\nhomefleet:stacks.litellm.container.port: m2");
  });
});

describe("the committed stack files", () => {
  it.each(["staging", "prod"])("Pulumi.%s.yaml parses", (stack) => {
    const config = loadStackFile(join(ROOT, `Pulumi.${stack}.yaml`));
    expect(Object.keys(config.stacks).length).toBeGreaterThan(0);
  });

  it("gets defaults for what it leaves out", () => {
    const prod = loadStackFile(join(ROOT, "Pulumi.prod.yaml"));
    expect({ port: prod.hosts.vulcan.port, user: prod.hosts.vulcan.user }).toEqual({ port: 22, user: "root" });
    expect(prod.stacks.litellm.cache?.appendFsync).toBe("everysec");
    // wallabag publishes hostPort 8081 and says nothing about the address: loopback only.
    expect(prod.stacks.wallabag.container!.publish).toEqual({ hostPort: 8081, address: "127.0.0.1" });
  });
});

describe("defaults", () => {
  const config = parseFleetConfig({
    hosts: oneHost,
    stacks: { litellm: litellmStack({ container: { image: IMAGE, publish: {} }, cache: {} }) },
  });

  it("connects over SSH as root on port 22", () => {
    expect({ port: config.hosts.box.port, user: config.hosts.box.user }).toEqual({ port: 22, user: "root" });
  });

  it("fsyncs the cache's append-only file every second", () => {
    expect(config.stacks.litellm.cache).toMatchObject({ appendOnly: true, appendFsync: "everysec" });
  });

  it("publishes on loopback", () => {
    expect(config.stacks.litellm.container!.publish?.address).toBe("127.0.0.1");
  });
});

describe("directories homefleet would own", () => {
  const volume = (source: string) => ({ litellm: withContainer({ volumes: [{ source, target: "/data" }] }) });
  const at = "homefleet:stacks.litellm.container.volumes.0.source";

  it("refuses a system tree or anything inside it as a volume, naming the tree", () => {
    expect(problemsOf({ hosts: oneHost, stacks: volume("/etc") })).toEqual([{ path: at, message: '"/etc" is a system directory: homefleet would change its owner and mode; use a directory of its own, e.g. below /var/lib' }]);
    expect(problemsOf({ hosts: oneHost, stacks: volume("/var/lib/homefleet/secrets") })).toEqual([
      { path: at, message: '"/var/lib/homefleet/secrets" is inside /var/lib/homefleet, a system directory: homefleet would change its owner and mode; use a directory of its own, e.g. below /var/lib' },
    ]);
    expect(problemsOf({ hosts: oneHost, stacks: volume("/usr/local/share/x") })[0].message).toMatch(/^"\/usr\/local\/share\/x" is inside \/usr, a system directory/);
  });

  it("refuses a shared parent itself, and '..' or empty segments", () => {
    expect(problemsOf({ hosts: oneHost, stacks: volume("/tmp") })).toEqual([{ path: at, message: '"/tmp" is a shared system directory: homefleet would change its owner and mode; use a directory of its own below it' }]);
    expect(problemsOf({ hosts: oneHost, stacks: volume("/var/lib/app/../../../etc") })).toEqual([{ path: at, message: '"/var/lib/app/../../../etc" contains "." or ".." segments: write the directory it means' }]);
    expect(problemsOf({ hosts: oneHost, stacks: volume("/var/lib//app") })).toEqual([{ path: at, message: '"/var/lib//app" has empty segments: write it without "//" or a trailing "/"' }]);
  });

  it("refuses a directory below /tmp or /var/tmp, which the system empties", () => {
    const message = (path: string, tree: string) =>
      `"${path}" is inside ${tree}, which the system empties and which homefleet's units (PrivateTmp=) each see as a private, empty directory: what is kept there is lost; use a directory below /var/lib or /srv`;
    expect(problemsOf({ hosts: oneHost, stacks: volume("/tmp/litellm") })).toEqual([{ path: at, message: message("/tmp/litellm", "/tmp") }]);
    expect(problemsOf({ hosts: { box: host({ backup: { dir: "/var/tmp/backups" } }) }, stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.backup.dir", message: message("/var/tmp/backups", "/var/tmp") },
    ]);
  });

  it("accepts a directory of its own below a shared parent", () => {
    for (const source of ["/var/lib/litellm/data", "/srv/media", "/home/alice/models", "/tmpfs-data"]) {
      expect(parseFleetConfig({ hosts: oneHost, stacks: volume(source) }).stacks.litellm.container!.volumes[0].source).toBe(source);
    }
  });

  it("refuses a system directory as the backup directory", () => {
    expect(problemsOf({ hosts: { box: host({ backup: { dir: "/" } }) }, stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.backup.dir", message: '"/" is a shared system directory: homefleet would change its owner and mode; use a directory of its own below it' },
    ]);
  });
});

describe("credentials in URLs", () => {
  const offsite = (repository: string) => ({ box: host({ backup: { offsite: { repository, passwordConfig: "resticPassword" } } }) });
  const refusal = (where: string) => `holds a password in the URL, which would be written in clear into unit files and onto command lines: ${where}`;

  it("refuses a password in a restic repository, an ACME server, a step-ca URL and a model's apiBase", () => {
    expect(problemsOf({ hosts: offsite("rest:https://backup:s3cr3t@nas.lan:8000/vulcan"), stacks: { litellm: litellmStack() }, configKeys: ["resticPassword"] })).toEqual([
      { path: "homefleet:hosts.box.backup.offsite.repository", message: refusal("give the credentials in the secret environment instead (environmentConfig)") },
    ]);
    const certificates = (spec: Raw) => ({ box: host({ certificates: { web: { domains: ["example.org"], ...spec } } }) });
    expect(problemsOf({ hosts: certificates({ issuer: "acme", acme: { email: "a@example.org", server: "https://u:p@acme.example.org/dir" } }), stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.certificates.web.acme.server", message: refusal("an ACME directory needs none") },
    ]);
    expect(problemsOf({ hosts: certificates({ issuer: "step-ca", stepCa: { url: "https://u:p@ca.lan", rootCert: "/etc/ssl/ca.pem" } }), stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.certificates.web.stepCa.url", message: refusal("the CA authenticates with its provisioner, not the URL") },
    ]);
    const stacks = { litellm: litellmStack({ litellm: { models: [model("a", { apiBase: "http://admin:hunter2@10.0.0.5:11434" })] } }) };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([{ path: "homefleet:stacks.litellm.litellm.models.0.apiBase", message: refusal("give the provider's key with apiKeyConfig instead") }]);
  });

  it("does not repeat a password written where no URL belongs when it refuses the value", () => {
    expect(problemsOf({ hosts: { box: host({ address: "root:hunter2@192.168.50.12" }) }, stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.address", message: "expected a hostname or IP address, got a value holding a password (user:password@), not repeated here" },
    ]);
    const stacks = { litellm: withContainer({ command: ["serve", { url: "https://admin:hunter2@10.0.0.5" }] }) };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([
      { path: "homefleet:stacks.litellm.container.command.1", message: "expected string, got a value holding a password (user:password@), not repeated here" },
    ]);
    // A value without one is repeated as it is, digest-pinned image references included.
    expect(problemsOf({ hosts: { box: host({ address: "ghcr.io/x:tag@sha256:00" }) }, stacks: { litellm: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.address", message: 'expected a hostname or IP address, got "ghcr.io/x:tag@sha256:00"' },
    ]);
  });

  it("accepts a user name without a password, and repositories without credentials", () => {
    for (const repository of ["sftp:backup@nas.lan:/srv/restic/vulcan", "s3:https://s3.example.org/bucket/vulcan", "rest:https://nas.lan:8000/vulcan", "/mnt/usb/restic"]) {
      expect(parseFleetConfig({ hosts: offsite(repository), stacks: { litellm: litellmStack() }, configKeys: ["resticPassword"] }).hosts.box.backup.offsite?.repository).toBe(repository);
    }
  });
});

describe("secrets written in plain environment or arguments", () => {
  const at = (rest: string) => `homefleet:stacks.litellm.container.${rest}`;

  it("refuses them in a container's environment and command, naming the path and never the value", () => {
    const stacks = {
      litellm: withContainer({
        environment: { OPENAI_API_KEY: "sk-CANARY", PGPASSWORD: "CANARY", AWS_SECRET_ACCESS_KEY: "CANARY", LITELLM_MASTER_KEY: "sk-CANARY", DATABASE_URL: "postgres://app:CANARY@db/app" },
        command: ["--api-key", "sk-CANARY", "--db=postgres://app:CANARY@db/app"],
      }),
    };
    const problems = problemsOf({ hosts: oneHost, stacks });
    expect(problems.map((p) => p.path)).toEqual([
      at("command.1"),
      at("command.2"),
      at("environment.AWS_SECRET_ACCESS_KEY"),
      at("environment.DATABASE_URL"),
      at("environment.LITELLM_MASTER_KEY"),
      at("environment.OPENAI_API_KEY"),
      at("environment.PGPASSWORD"),
    ]);
    expect(JSON.stringify(problems)).not.toContain("CANARY");
    expect(problems.find((p) => p.path === at("environment.DATABASE_URL"))!.message).toBe(
      "holds a password in a URL, which is written in clear into unit files, the Nix store and process listings: give it in secretEnvironment (database.url and cache.url for the stack's own)",
    );
  });

  it("accepts names that are not secrets, and values that say where a secret is", () => {
    const environment = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", TOKEN_URL: "https://example.org/token", SECRET_KEY_FILE: "/run/secrets/key", GOOGLE_APPLICATION_CREDENTIALS: "/etc/gcp.json", OPENAI_API_KEY: "os.environ/OPENAI_KEY", REDIS_PASSWORD: "", PASSWORD_MIN_LENGTH: "12" };
    const command = ["--token-file", "/run/secrets/token", "--password-file=/etc/pw", "--api-key", "--verbose", "--url", "https://user@example.org/"];
    const parsed = parseFleetConfig({ hosts: oneHost, stacks: { litellm: withContainer({ environment, command }) } });
    expect(parsed.stacks.litellm.container!.environment).toEqual(environment);
    expect(parsed.stacks.litellm.container!.command).toEqual(command);
  });
});

describe("control characters", () => {
  const message = (code: string) => `control character U+${code} is not allowed: values become unit-file lines, Nix strings and command arguments`;

  it("refuses a newline in an environment value and a control character in a command, naming the config path", () => {
    const stacks = { litellm: withContainer({ environment: { GREETING: "hello\nExecStartPre=/bin/sh -c id" }, command: ["serve", "--x\u0001"] }) };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([
      { path: "homefleet:stacks.litellm.container.command.1", message: message("0001") },
      { path: "homefleet:stacks.litellm.container.environment.GREETING", message: message("000A") },
    ]);
  });

  it("refuses one in a key and in a written reason", () => {
    expect(problemsThrownBy(() => parseFleetConfig({ hosts: { "box\r": host() }, stacks: {}, review: { accept: [{ check: "port-clash", path: "x", reason: "because\tit is fine here" }] } }))).toEqual([
      { path: 'homefleet:hosts."box\\r"', message: message("000D") },
      { path: "homefleet:review.accept.0.reason", message: message("0009") },
    ]);
  });
});

describe("networks shared by accident", () => {
  const bridge = (subnet: string, network: Raw = {}) => litellmStack({ network: { subnet, ...network } });

  it("refuses two stacks on one host naming the same podman network", () => {
    const stacks = { a: bridge("10.89.1.0/24", { name: "shared" }), b: { ...bridge("10.89.2.0/24", { name: "shared" }), container: { image: IMAGE, publish: { hostPort: 4001 } } } };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([{ path: "homefleet:stacks.b.network.name", message: 'network "shared" on host box is already stack a\'s: name another' }]);
  });

  it("refuses a bridge subnet that holds the host's own address", () => {
    const hosts = { box: host({ address: "192.168.50.12" }) };
    expect(problemsOf({ hosts, stacks: { a: bridge("192.168.50.0/24") } })).toEqual([
      {
        path: "homefleet:stacks.a.network.subnet",
        message:
          "subnet 192.168.50.0/24 holds the host's own address 192.168.50.12 (homefleet:hosts.box.address): the bridge would take the route to the host's network, and the SSH connection homefleet deploys through; choose a range the host's network does not use, such as 10.89.0.0/24",
      },
    ]);
    expect(problemsOf({ hosts, stacks: { a: bridge("192.168.0.0/16") } })).toHaveLength(1);
    // Next to it, or a host known by name only: nothing to refuse.
    expect(parseFleetConfig({ hosts, stacks: { a: bridge("192.168.51.0/24") } }).stacks.a.network.subnet).toBe("192.168.51.0/24");
    expect(parseFleetConfig({ hosts: { box: host({ address: "box.lan" }) }, stacks: { a: bridge("192.168.50.0/24") } }).stacks.a.network.subnet).toBe("192.168.50.0/24");
  });

  it("refuses default bridge names that collide (a-b and ab both give hfab)", () => {
    const stacks = { "a-b": bridge("10.89.1.0/24"), ab: { ...bridge("10.89.2.0/24"), container: { image: IMAGE, publish: { hostPort: 4001 } } } };
    expect(problemsOf({ hosts: oneHost, stacks })).toEqual([{ path: "homefleet:stacks.ab", message: 'bridge "hfab" on host box is already stack a-b\'s (the stack\'s default network.interface): name another' }]);
  });
});

describe("certificate values the renewal scripts would refuse on every run", () => {
  const cert = (spec: Raw, name = "web") => ({ box: host({ certificates: { [name]: { domains: ["example.org"], issuer: "acme", acme: { email: "a@example.org" }, ...spec } } }) });
  const stacks = { litellm: litellmStack() };

  it("refuses an http:// ACME directory and step-ca URL", () => {
    expect(problemsOf({ hosts: cert({ acme: { email: "a@example.org", server: "http://acme.lan/dir" } }), stacks })).toEqual([
      { path: "homefleet:hosts.box.certificates.web.acme.server", message: 'expected an https:// URL, got "http://acme.lan/dir"' },
    ]);
    expect(problemsOf({ hosts: cert({ issuer: "step-ca", acme: undefined, stepCa: { url: "http://ca.lan", rootCert: "/etc/ssl/ca.pem" } }), stacks })).toEqual([
      { path: "homefleet:hosts.box.certificates.web.stepCa.url", message: 'expected an https:// URL, got "http://ca.lan"' },
    ]);
  });

  it("refuses a wildcard domain, naming its index", () => {
    expect(problemsOf({ hosts: cert({ domains: ["example.org", "*.example.org"] }), stacks })).toEqual([
      { path: "homefleet:hosts.box.certificates.web.domains.1", message: "a wildcard cannot be issued here (HTTP-01 proves one name at a time): list the names" },
    ]);
  });

  it("refuses a reload unit that systemctl would read as an option, and a name the metrics would clash with", () => {
    expect(problemsOf({ hosts: cert({ reloadUnit: "--no-block.service" }), stacks })).toEqual([
      { path: "homefleet:hosts.box.certificates.web.reloadUnit", message: 'expected a unit name such as nginx.service, got "--no-block.service"' },
    ]);
    expect(problemsOf({ hosts: cert({}, "renewal_web"), stacks })[0]).toMatchObject({ path: 'homefleet:hosts.box.certificates.renewal_web', message: expect.stringMatching(/^bad name: .*not starting with renewal_/) });
  });
});

describe("certificates from a step-ca and certificates a service reads", () => {
  const cert = (spec: Raw) => ({ box: host({ certificates: { internal: { domains: ["db.lan", "pg.lan"], issuer: "step-ca", stepCa: { url: "https://ca.lan:8443/", rootCert: "/etc/step-ca/root_ca.crt" }, ...spec } } }) });

  it("orders a step-ca certificate through the CA's ACME provisioner, every name, trusting its root", () => {
    const c = parseFleetConfig({ hosts: cert({}), stacks: {} }).hosts.box.certificates.internal;
    expect(acmeOrder(c)).toEqual({ server: "https://ca.lan:8443/acme/acme/directory", email: "hostmaster@db.lan", httpPort: 80, caBundle: "/etc/step-ca/root_ca.crt" });
    const unit = buildFleetModel(parseFleetConfig({ hosts: cert({}), stacks: {} })).hosts[0].operations.services.find((s) => s.name === "homefleet-cert-internal")!;
    expect(unit.execStart[0].args).toEqual(["internal", "db.lan,pg.lan", "https://ca.lan:8443/acme/acme/directory", "hostmaster@db.lan", "/var/lib/homefleet/certs/internal", "-", "30", "/etc/step-ca/root_ca.crt"]);
  });

  it("gives the key's directory to a group, setgid, and refuses root or a bad name as that group", () => {
    const model = buildFleetModel(parseFleetConfig({ hosts: cert({ group: "postgres" }), stacks: {} }));
    expect(model.hosts[0].operations.directories).toContainEqual({ path: "/var/lib/homefleet/certs/internal", mode: "2750", user: "root", group: "postgres" });
    expect(problemsOf({ hosts: cert({ group: "root" }), stacks: {} })).toEqual([
      { path: "homefleet:hosts.box.certificates.internal.group", message: 'the key is root\'s already: name the group of the service that reads it, or leave group out, got "root"' },
    ]);
    expect(problemsOf({ hosts: cert({ group: "Postgres Users" }), stacks: {} })[0].path).toBe("homefleet:hosts.box.certificates.internal.group");
  });

  it("refuses a step-ca HTTP-01 port a stack listens on", () => {
    expect(problemsOf({ hosts: cert({ stepCa: { url: "https://ca.lan", rootCert: "/etc/ca.pem", httpPort: 4000 } }), stacks: { proxy: litellmStack() } })).toEqual([
      { path: "homefleet:hosts.box.certificates.internal.stepCa.httpPort", message: "port 4000 on host box is already used by homefleet:stacks.proxy.container.publish.hostPort: the HTTP-01 responder could not listen during renewal" },
    ]);
  });
});

describe("deploy timing", () => {
  const deploy = (d: Raw) => problemsThrownBy(() => parseFleetConfig({ hosts: oneHost, stacks: { litellm: litellmStack() }, deploy: d }));

  it("refuses a revert timer that would fire inside the health gate", () => {
    expect(deploy({ confirmAfterSec: 300, healthTimeoutSec: 300 })).toEqual([
      { path: "homefleet:deploy.confirmAfterSec", message: "must be at least healthTimeoutSec + healthSoakSec + 60: the revert timer would roll back a healthy deployment still inside its health gate, got 300" },
    ]);
  });

  it("has defaults that keep that margin", () => {
    const d = parseFleetConfig({ hosts: oneHost, stacks: { litellm: litellmStack() } }).deploy;
    expect(d.confirmAfterSec - d.healthTimeoutSec).toBeGreaterThanOrEqual(60);
  });
});
