// A stand-in for the Pulumi engine's create step, for end-to-end tests of the whole program: the
// compiled program (dist/index.js) runs under Pulumi's own runtime with mocks, and every host
// deployment it registers is created for real: its serialized provider (the `__provider` input,
// exactly what the engine would load) is loaded and its check and create run against the host.
// The runtime registers a resource only once its inputs resolve, so rollout waves play out as
// they would under `pulumi up`. Reads {root, config} on stdin; prints {events, errors} as JSON.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => run(JSON.parse(input)));

function loadProvider(text) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hf-provider-")), "provider.js");
  fs.writeFileSync(file, text);
  // Resolve ssh2 and friends from the project, as the engine's provider host does.
  module.paths.unshift(path.join(process.env.HOMEFLEET_ROOT, "node_modules"));
  const Module = require("node:module");
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(process.env.HOMEFLEET_ROOT);
  m._compile(text, file);
  return m.exports.handler();
}

// The dynamic provider tells the engine it does not accept secrets, so the engine hands it plain
// values (and keeps the outputs secret itself); the mock runtime hands over the secret envelopes.
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
function unwrapSecrets(value) {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === "object") {
    if (value["4dabf18193072939515e22adb298388d"] === SECRET_SIG) return unwrapSecrets(value.value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

async function run({ root, config }) {
  process.env.HOMEFLEET_ROOT = root;
  // The engine's gRPC server keeps a real program alive; here nothing would while the runtime
  // waits on the closure serializer (inspector callbacks hold no handle).
  setInterval(() => undefined, 1000);
  const pulumi = require(path.join(root, "node_modules", "@pulumi", "pulumi"));
  const events = [];
  const errors = [];
  process.on("unhandledRejection", (err) => {
    errors.push(String((err && err.message) || err));
    failed = true;
    setImmediate(settleAfterFailure);
  });
  const at = () => Date.now();
  // Like the engine: once a resource failed, nothing that depends on it will ever register; finish
  // when the creates already under way are done.
  let inFlight = 0;
  let failed = false;
  const finish = () => {
    process.stdout.write(JSON.stringify({ events, errors: [...new Set(errors)] }));
    process.exit(0);
  };
  const settleAfterFailure = () => {
    if (failed && inFlight === 0) setTimeout(finish, 2000);
  };
  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        if (args.type === "random:index/randomPassword:RandomPassword") {
          // What @pulumi/random would create: letters and digits (homefleet asks for special: false).
          const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
          const bytes = require("node:crypto").randomBytes(args.inputs.length);
          const result = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
          return { id: `${args.name}-id`, state: { ...args.inputs, result } };
        }
        if (args.type !== "pulumi-nodejs:dynamic:Resource") return { id: `${args.name}-id`, state: args.inputs };
        const host = args.inputs.host;
        events.push({ host, event: "start", at: at() });
        const inputs = unwrapSecrets(args.inputs);
        const provider = loadProvider(inputs.__provider);
        inFlight++;
        try {
          const checked = await provider.check({}, inputs);
          if (checked.failures && checked.failures.length) throw new Error(checked.failures.map((f) => f.reason).join("\n"));
          const created = await provider.create(checked.inputs);
          events.push({ host, event: created.outs.health.verdict, generation: created.outs.generation, at: at() });
          return { id: created.id, state: created.outs };
        } catch (err) {
          events.push({ host, event: "failed", message: err.message, at: at() });
          failed = true;
          throw err;
        } finally {
          inFlight--;
          setImmediate(settleAfterFailure);
        }
      },
      call: (args) => args.inputs,
    },
    "homefleet",
    "e2e",
    false,
  );
  pulumi.runtime.setAllConfig(config, ["homefleet:sshPrivateKey"]);
  try {
    await pulumi.runtime.runInPulumiStack(async () => ({ ...require(path.join(root, "dist", "index.js")) }));
    await pulumi.runtime.disconnect();
  } catch (err) {
    errors.push(String((err && err.message) || err));
  }
  await new Promise((r) => setTimeout(r, 1000));
  finish();
}
