/**
 * Generated secrets: the value homefleet's own resource draws, and the provider's decisions
 * (a new length replaces the value; nothing else touches it).
 */
import { generatedSecretProvider, generateSecretValue } from "../components/GeneratedSecret";

describe("generateSecretValue", () => {
  it("draws alphanumeric values of the asked length with at least two of each class", () => {
    for (const length of [12, 32, 48]) {
      for (let i = 0; i < 200; i++) {
        const v = generateSecretValue(length);
        expect(v).toMatch(new RegExp(`^[A-Za-z0-9]{${length}}$`));
        expect(v.replace(/[^A-Z]/g, "").length).toBeGreaterThanOrEqual(2);
        expect(v.replace(/[^a-z]/g, "").length).toBeGreaterThanOrEqual(2);
        expect(v.replace(/[^0-9]/g, "").length).toBeGreaterThanOrEqual(2);
      }
    }
  });

  it("never repeats a value, and uses every character of the alphabet", () => {
    const values = Array.from({ length: 2000 }, () => generateSecretValue(32));
    expect(new Set(values).size).toBe(values.length);
    expect(new Set(values.join("")).size).toBe(62);
  });

  it("does not put the guaranteed characters first", () => {
    // With the shuffle, a digit leads about 10/62 of values; without it, never.
    const leadingDigits = Array.from({ length: 1000 }, () => generateSecretValue(32)).filter((v) => /^[0-9]/.test(v)).length;
    expect(leadingDigits).toBeGreaterThan(50);
  });

  it("refuses lengths that are too short to be a secret", () => {
    expect(() => generateSecretValue(8)).toThrow(/at least 12 characters, got 8/);
  });
});

describe("the generated-secret provider", () => {
  it("creates a value of the asked length", async () => {
    const created = await generatedSecretProvider.create({ length: 40 });
    expect(created.outs.result).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("replaces the value when the length changes and keeps it otherwise", async () => {
    expect(await generatedSecretProvider.diff!("id", { length: 32, result: "x" }, { length: 48 })).toEqual({ changes: true, replaces: ["length"] });
    expect(await generatedSecretProvider.diff!("id", { length: 32, result: "x" }, { length: 32 })).toEqual({ changes: false, replaces: [] });
  });

  it("keeps the value on refresh", async () => {
    const props = { length: 32, result: "kept" };
    expect(await generatedSecretProvider.read!("id", props)).toEqual({ id: "id", props });
  });
});
