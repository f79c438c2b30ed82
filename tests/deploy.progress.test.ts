/**
 * Deployment progress as `pulumi up` receives it: each step becomes one ephemeral info message on
 * the engine's Log RPC for the host deployment's URN. The engine here is a gRPC server speaking
 * Pulumi's own engine protocol (the generated modules @pulumi/pulumi ships), so the bytes on the
 * wire are what the real engine decodes; tests-e2e/engine.e2e.test.ts checks the real engine's
 * event log.
 */
import * as grpc from "@grpc/grpc-js";
import { childUrn, engineAddress, engineProgress } from "../deploy/engineProgress";
import { describeStep, type DeployStep } from "../deploy/deployHost";
import { HOST_DEPLOYMENT_TYPE } from "../hosts/HostDeployment";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");

describe("the steps as a user reads them", () => {
  it("says what happens to the host, in its words", () => {
    const steps: DeployStep[] = [
      { step: "connecting", address: "10.0.0.5:22" },
      { step: "pulling", images: 1 },
      { step: "uploading", generation: 3, files: 12, bytes: 35_400 },
      { step: "switching", generation: 3, reused: false },
      { step: "health", generation: 3, round: 2, passing: 3, checks: 5 },
      { step: "health", generation: 3, round: 7, passing: 5, checks: 5, soakingSec: 30 },
      { step: "confirming", generation: 3 },
      { step: "rolling-back", generation: 4 },
      { step: "unchanged", generation: 3 },
    ];
    expect(steps.map(describeStep)).toEqual([
      "connecting to 10.0.0.5:22",
      "pulling 1 container image (those not on the host yet)",
      "uploading generation 3: 12 files, 34.6 KiB",
      "switching to generation 3, revert timer armed",
      "health round 2: 3 of 5 checks pass",
      "health round 7: 5 of 5 checks pass, holding for 30 s",
      "healthy: confirming generation 3",
      "unhealthy: rolling generation 4 back",
      "generation 3 already runs: checking its units",
    ]);
  });
});

describe("the resource's URN, which a dynamic provider is not told", () => {
  it("extends the parent's type chain by the dynamic resource's type", () => {
    expect(childUrn("urn:pulumi:prod::homefleet::homefleet:index:Fleet$homefleet:host:FleetHost::forge", HOST_DEPLOYMENT_TYPE, "forge-deployment")).toBe(
      "urn:pulumi:prod::homefleet::homefleet:index:Fleet$homefleet:host:FleetHost$pulumi-nodejs:dynamic/homefleet:HostDeployment::forge-deployment",
    );
  });

  it("finds the engine's address among the provider process's arguments", () => {
    expect(engineAddress(["127.0.0.1:40123"])).toBe("127.0.0.1:40123");
    expect(engineAddress(["--logtostderr", "-v=9", "127.0.0.1:40123"])).toBe("127.0.0.1:40123");
    expect(engineAddress(["--tracing", "file:/tmp/x"])).toBeUndefined();
    expect(engineAddress([])).toBeUndefined();
  });
});

describe("messages on the engine's Log RPC", () => {
  let server: grpc.Server;
  let address = "";
  const received: { severity: number; message: string; urn: string; ephemeral: boolean }[] = [];

  beforeAll(async () => {
    server = new grpc.Server();
    const log = (call: { request: any }, callback: (err: null, value: unknown) => void) => {
      received.push({ severity: call.request.getSeverity(), message: call.request.getMessage(), urn: call.request.getUrn(), ephemeral: call.request.getEphemeral() });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      callback(null, new (require("google-protobuf/google/protobuf/empty_pb").Empty)());
    };
    server.addService(engineRpc.EngineService, { log, getRootResource: () => undefined, setRootResource: () => undefined, startDebugging: () => undefined, requireFeature: () => undefined } as never);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => server.forceShutdown());

  it("sends each message as ephemeral info for the URN", async () => {
    const urn = "urn:pulumi:prod::homefleet::homefleet:host:FleetHost$pulumi-nodejs:dynamic/homefleet:HostDeployment::forge-deployment";
    const report = engineProgress(urn, address)!;
    report("connecting to 10.0.0.5:22");
    report("uploading generation 3: 12 files, 34.6 KiB");
    for (let i = 0; i < 50 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    // LogSeverity.INFO is 1 in Pulumi's engine protocol.
    expect(received).toEqual([
      { severity: 1, message: "connecting to 10.0.0.5:22", urn, ephemeral: true },
      { severity: 1, message: "uploading generation 3: 12 files, 34.6 KiB", urn, ephemeral: true },
    ]);
  });

  it("reports nothing outside a process the engine started, or without a URN", () => {
    expect(engineProgress("urn:x", undefined)).toBeUndefined();
    expect(engineProgress(undefined, address)).toBeUndefined();
  });
});
