import { ConfigError, parseFleetConfig, type ConfigProblem } from "../../config/load";

/** The problems the config check reports for `input`; throws when it accepts the config or fails otherwise. */
export function configProblems(input: Parameters<typeof parseFleetConfig>[0]): ConfigProblem[] {
  try {
    parseFleetConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error("the config was accepted");
}
