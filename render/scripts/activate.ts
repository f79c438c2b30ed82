import { hostScriptText } from "./files";
import type { ScriptSpec } from "./index";

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
