/**
 * Environment names that run through the Gymnasium bridge: `gym:<id>[,option]...`, where `<id>` is
 * a registered Gymnasium id (`gym:CartPole-v1`) or `module.path:factory`, a function of yours that
 * builds one copy (`gym:my_envs:make_maze`). The options ride in the name so that everything
 * naming an environment — `--env`, the agent's config, a run's config.json and its checkpoint —
 * carries them: `discretise-box` (a Box action space as 2d + 1 discrete actions) and `key=value`
 * keyword arguments for gymnasium.make or the factory (the value read as JSON when it parses, else
 * as a string: `gym:LunarLander-v3,continuous=true,discretise-box`). Commas need no shell quoting
 * and appear in no Gymnasium id.
 */
import { StaqInputError } from "../../errors.ts";
import type { JsonValue } from "../env.ts";

export const GYM_PREFIX = "gym:";

export interface GymName {
  /** The Gymnasium id or `module.path:factory`. */
  id: string;
  discretiseBox: boolean;
  kwargs: Record<string, JsonValue>;
}

/** True for a name the bridge steps (it starts with "gym:"). */
export function isGymName(name: string): boolean {
  return name.startsWith(GYM_PREFIX);
}

export function parseGymName(name: string): GymName {
  if (!isGymName(name))
    throw new StaqInputError(`${JSON.stringify(name)} is not a gym: name; write gym:<Gymnasium id>, e.g. gym:CartPole-v1`);
  const [id, ...options] = name.slice(GYM_PREFIX.length).split(",");
  if (!id.trim() || id !== id.trim())
    throw new StaqInputError(
      `${JSON.stringify(name)} names no environment after "gym:"; write gym:<Gymnasium id> (gym:CartPole-v1) or gym:module.path:factory`,
    );
  const parsed: GymName = { id, discretiseBox: false, kwargs: {} };
  for (const option of options) {
    if (option === "discretise-box") {
      parsed.discretiseBox = true;
      continue;
    }
    const equals = option.indexOf("=");
    if (equals <= 0) {
      throw new StaqInputError(
        `${JSON.stringify(name)}: unknown option ${JSON.stringify(option)}; the options after the id are discretise-box and key=value (keyword arguments of the env)`,
      );
    }
    const text = option.slice(equals + 1);
    let value: JsonValue = text;
    try {
      value = JSON.parse(text) as JsonValue;
    } catch {
      // a plain string
    }
    parsed.kwargs[option.slice(0, equals)] = value;
  }
  return parsed;
}
