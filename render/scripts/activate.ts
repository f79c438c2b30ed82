import { readFileSync } from "node:fs";
import { join } from "node:path";
import { homefleetRoot } from "../../config/packageRoot";
import type { ScriptSpec } from "./index";

/** Reads a host script once, at load: the deployer's dynamic provider carries the text, not the path. */
export function hostScriptText(fileName: string): string {
  return readFileSync(join(homefleetRoot(), "render", "scripts", fileName), "utf8");
}

/**
 * The host side of a deployment (render/scripts/homefleet-activate.sh): generations, the deploy
 * lock, and one state machine for switch, confirm and rollback that the deployer and the revert
 * timer share.
 */
export const activateScript: ScriptSpec = {
  name: "homefleet-activate",
  nixRuntimeInputs: ["jq", "coreutils", "findutils", "gnutar", "gnused", "gawk", "util-linux", "iproute2", "systemd"],
  text: hostScriptText("homefleet-activate.sh"),
};
