/**
 * The resource tree shows a native stack: a NativeService component (unit, port, module) under
 * its ServiceStack where a container stack has its ContainerService, with the same Database.
 */
import { runProgram, stackFileConfig } from "./support/pulumiMocks";

it("registers a NativeService under a native stack's ServiceStack, with its unit, port and module", async () => {
  const run = await runProgram(stackFileConfig(`${__dirname}/fixtures/native.yaml`));

  expect(run.error).toBeUndefined();
  const of = (type: string) => run.resources.filter((r) => r.type === type);
  const natives = of("homefleet:native:NativeService");
  expect(natives.map((n) => n.name).sort()).toEqual(["avahi-native", "grafana-native", "home-assistant-native", "jellyfin-native", "metrics-native", "nix-samba-native", "postfix-native", "samba-native", "sanoid-native"]);
  for (const n of natives) expect(n.parentType).toBe("homefleet:stack:ServiceStack");
  // A native stack has no container; its database is the same Database component a container's is.
  expect(of("homefleet:container:ContainerService")).toEqual([]);
  expect(natives.find((n) => n.name === "grafana-native")!.state).toMatchObject({ unit: "grafana.service", port: 3000, module: "services.grafana", dataDirs: ["/var/lib/grafana"] });
  expect(natives.find((n) => n.name === "samba-native")!.state).toMatchObject({ unit: "smbd.service", port: 445, module: "package:samba" });
  expect(natives.find((n) => n.name === "sanoid-native")!.state).toMatchObject({ unit: "sanoid.timer", module: "package:sanoid" });
  expect(of("homefleet:postgres:Database").map((d) => d.parentType)).toEqual(["homefleet:stack:ServiceStack", "homefleet:stack:ServiceStack"]);
});
