/**
 * Property: whatever string a user puts in a string-valued key, homefleet either refuses the config
 * with problems that each name a config path (the key itself among them), or renders every host
 * without an error of its own and writes no control character other than newline and tab into any
 * file. fast-check generates the strings (full Unicode, control characters, quotes, `${`, `%`,
 * newlines); a failure prints the smallest string that breaks it.
 */
import fc from "fast-check";
import { renderFleet } from "../bundle/hostBundle";
import { ConfigError, parseFleetConfig } from "../config/load";
import { mixedFleet } from "./support/mixedFleet";

type Raw = Record<string, any>;

function fleet(): Raw {
  const f = mixedFleet();
  f.hosts.box.certificates = { web: { domains: ["llm.example.org"], issuer: "acme", acme: { email: "ops@example.org" } } };
  Object.assign(f.stacks.llm.container, { environment: { GREETING: "hello" }, command: ["--port", "4000"] });
  f.stacks.wiki.container.environment = { SYMFONY__ENV__DOMAIN_NAME: "https://wiki.lan" };
  return f;
}

/** String leaves a user writes, by config path below homefleet:, with a setter. */
const LEAVES: Record<string, (f: Raw, v: string) => void> = {
  "stacks.llm.container.environment.GREETING": (f, v) => (f.stacks.llm.container.environment.GREETING = v),
  "stacks.wiki.container.environment.SYMFONY__ENV__DOMAIN_NAME": (f, v) => (f.stacks.wiki.container.environment.SYMFONY__ENV__DOMAIN_NAME = v),
  "stacks.llm.container.command.1": (f, v) => (f.stacks.llm.container.command[1] = v),
  "stacks.wiki.container.image": (f, v) => (f.stacks.wiki.container.image = v),
  "stacks.wiki.container.volumes.0.source": (f, v) => (f.stacks.wiki.container.volumes[0].source = v),
  "stacks.wiki.container.healthCheck.path": (f, v) => (f.stacks.wiki.container.healthCheck.path = v),
  "stacks.llm.litellm.models.0.name": (f, v) => (f.stacks.llm.litellm.models[0].name = v),
  "stacks.llm.litellm.models.0.model": (f, v) => (f.stacks.llm.litellm.models[0].model = v),
  "stacks.llm.litellm.models.0.apiBase": (f, v) => (f.stacks.llm.litellm.models[0].apiBase = v),
  "stacks.llm.database.name": (f, v) => (f.stacks.llm.database.name = v),
  "stacks.llm.database.user": (f, v) => (f.stacks.llm.database.user = v),
  "hosts.box.backup.dir": (f, v) => (f.hosts.box.backup = { dir: v }),
  "hosts.box.certificates.web.domains.0": (f, v) => (f.hosts.box.certificates.web.domains[0] = v),
  "hosts.box.certificates.web.reloadUnit": (f, v) => (f.hosts.box.certificates.web.reloadUnit = v),
};

/** Strings that stress every writer: any Unicode, with quoting and expansion characters mixed in. */
const hostile = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.array(fc.constantFrom("\n", "\r", "\t", "\u0000", "\u0001", "\u007f", "\u2028", '"', "'", "\\", "${", "$", "%", "`", ";", " ", "#", "=", "a", "/", "..", "*"), { maxLength: 12 }).map((parts) => parts.join("")),
);

// Control characters a file may hold: newline and tab. Anything else came from a value.
const FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f]/;

describe.each(Object.keys(LEAVES))("homefleet:%s", (leaf) => {
  it("is refused naming its path, or rendered without a stray control character", () => {
    fc.assert(
      fc.property(hostile, (value) => {
        const raw = fleet();
        LEAVES[leaf](raw, value);
        let config;
        try {
          config = parseFleetConfig({ hosts: raw.hosts, stacks: raw.stacks });
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          for (const p of err.problems) expect(p.path).toMatch(/^homefleet:/);
          expect(err.problems.some((p) => p.path.startsWith(`homefleet:${leaf}`))).toBe(true);
          return;
        }
        const { bundles } = renderFleet(config);
        for (const b of bundles) for (const f of b.files) expect({ file: f.path, stray: FORBIDDEN.test(f.content) }).toEqual({ file: f.path, stray: false });
      }),
      { numRuns: 150, seed: 20261130 },
    );
  });
});
