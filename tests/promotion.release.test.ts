/**
 * The promotion gate's rules, pure: what counts as proven, what is compared, what is not.
 */
import { loadStackFile } from "../config/load";
import { litellmFingerprint, promotionDifferences, releaseOf, type Release } from "../promotion/release";

const prod = loadStackFile(`${__dirname}/../Pulumi.prod.yaml`);
const wanted = releaseOf(prod, {});
const litellm = prod.stacks.litellm.litellm!;

function source(healthy = true): Release {
  return {
    stacks: {
      a: { host: "box", image: wanted.stacks.litellm.image, litellm: wanted.stacks.litellm.litellm },
      b: { host: "box", image: wanted.stacks["litellm-forge"].image, litellm: wanted.stacks["litellm-forge"].litellm },
      w: { host: "box", image: wanted.stacks.wallabag.image },
    },
    packages: {},
    hosts: { box: { verdict: healthy ? "healthy" : "unhealthy", checkedAt: "2026-11-23T10:00:00Z", generation: 2 } },
  };
}

it("fingerprints the LiteLLM config without endpoints or key names, and with everything else", () => {
  const moved = { ...litellm, models: litellm.models.map((m) => ({ ...m, apiBase: "http://10.0.0.99:11434", apiKeyConfig: "otherKey" })) };
  expect(litellmFingerprint(moved)).toBe(litellmFingerprint(litellm));
  expect(litellmFingerprint({ ...litellm, router: { ...litellm.router, timeout: litellm.router.timeout + 1 } })).not.toBe(litellmFingerprint(litellm));
  expect(litellmFingerprint({ ...litellm, models: litellm.models.map((m, i) => (i === 0 ? { ...m, model: `${m.model}-next` } : m)) })).not.toBe(litellmFingerprint(litellm));
});

it("finds nothing when the source ran every image and config healthily", () => {
  expect(promotionDifferences(wanted, source(), "staging")).toEqual([]);
});

it("counts nothing a host ran while unhealthy", () => {
  const paths = promotionDifferences(wanted, source(false), "staging").map((d) => d.path);
  expect(paths).toEqual([
    "homefleet:stacks.litellm.container.image",
    "homefleet:stacks.litellm.litellm",
    "homefleet:stacks.litellm-forge.container.image",
    "homefleet:stacks.litellm-forge.litellm",
    "homefleet:stacks.wallabag.container.image",
  ]);
});

it("refuses when the source stack has never reported a release", () => {
  expect(promotionDifferences(wanted, undefined, "staging")).toEqual([{ path: "homefleet:promoteFrom", message: "stack staging has no release output: deploy it with pulumi up first" }]);
});
