/**
 * Environments by name, as Gymnasium's `make`: `makeEnv("CartPole-v1")` builds the environment
 * with upstream's time limit. The classic-control ports and LunarLander are registered here; other
 * packages (and the MinAtar subpath) add theirs with `registerEnv`, and users can register their own.
 */
import { StaqInputError } from "../errors.ts";
import { AcrobotEnv } from "./classic/acrobot.ts";
import { CartPoleEnv } from "./classic/cartpole.ts";
import { MountainCarEnv } from "./classic/mountain-car.ts";
import { CLASSIC_TIME_LIMITS } from "./classic/classic-env.ts";
import { LUNAR_LANDER_TIME_LIMIT, LunarLanderEnv } from "./box2d/lunar-lander.ts";
import type { Env } from "./env.ts";
import { describeValue } from "../io/describe-value.ts";
import { withTimeLimit } from "./time-limit.ts";

export interface EnvRegistration {
  name: string;
  /** One line for `staq envs`. */
  description: string;
  /** Builds a new, independent copy (without the time limit). */
  make: () => Env;
  /** Upstream's step limit, if the environment has one. */
  maxEpisodeSteps?: number;
}

const registry = new Map<string, EnvRegistration>();

/** Adds (or, with the same name, replaces) an environment. */
export function registerEnv(registration: EnvRegistration): void {
  if (registration === null || typeof registration !== "object")
    throw new StaqInputError(`registerEnv needs a registration { name, description, make }; got ${describeValue(registration)}`);
  if (typeof registration.name !== "string" || !registration.name)
    throw new StaqInputError(`registerEnv needs a non-empty string name; got ${describeValue(registration.name)}`);
  // Checked here, not at makeEnv: a registration that cannot build would fail far from its cause.
  if (typeof registration.make !== "function")
    throw new StaqInputError(
      `registerEnv(${JSON.stringify(registration.name)}): make must be a function that builds a new copy of the env; got ${describeValue(registration.make)}`,
    );
  if (
    registration.maxEpisodeSteps !== undefined &&
    !(Number.isInteger(registration.maxEpisodeSteps) && registration.maxEpisodeSteps >= 1)
  ) {
    throw new StaqInputError(
      `${registration.name}: maxEpisodeSteps must be an integer >= 1; got ${describeValue(registration.maxEpisodeSteps)}`,
    );
  }
  registry.set(registration.name, registration);
}

/** The registered environments, in registration order. */
export function registeredEnvs(): readonly EnvRegistration[] {
  return [...registry.values()];
}

/**
 * A new environment by name, time-limited as upstream unless `maxEpisodeSteps` says otherwise
 * (a number, or null for no limit).
 */
export function makeEnv(name: string, options: { maxEpisodeSteps?: number | null } = {}): Env {
  if (typeof name !== "string")
    throw new StaqInputError(`makeEnv needs an environment name (a string, e.g. "CartPole-v1"); got ${describeValue(name)}`);
  if (options === null || typeof options !== "object")
    throw new StaqInputError(
      `makeEnv(${JSON.stringify(name)}): options must be an object such as { maxEpisodeSteps: 200 }; got ${describeValue(options)}`,
    );
  const registration = registry.get(name);
  if (!registration && name.startsWith("gym:")) {
    // The Gymnasium bridge's copies live in a Python worker and step only together (src/envs/gym/).
    throw new StaqInputError(
      `${name} is a Python environment: it runs only as a vector env in a worker process, in Node — createGymVectorEnv(${JSON.stringify(name)}, n) from "staq", or env: ${JSON.stringify(name)} for the StaQ agent of "staq" — not as a single env from makeEnv`,
    );
  }
  if (!registration) {
    throw new StaqInputError(
      `no environment named ${JSON.stringify(name)}; known: ${[...registry.keys()].join(", ")}${minatarHint()} (register your own with registerEnv)`,
    );
  }
  const limit = options.maxEpisodeSteps === undefined ? registration.maxEpisodeSteps : (options.maxEpisodeSteps ?? undefined);
  const env = registration.make();
  return limit === undefined ? env : withTimeLimit(env, limit);
}

/** Where the MinAtar ids come from, while they are not registered (their GPL-3.0 code is imported only on request). */
function minatarHint(): string {
  if ([...registry.keys()].some((name) => name.startsWith("MinAtar/"))) return "";
  return `; and, once the subpath staq/envs/minatar is imported, MinAtar/{Asterix,Breakout,Freeway,Seaquest,SpaceInvaders}-{v0,v1}`;
}

registerEnv({
  name: "CartPole-v1",
  description: "balance a pole on a cart (Gymnasium classic control); 4 observations, 2 actions",
  make: () => new CartPoleEnv(),
  maxEpisodeSteps: CLASSIC_TIME_LIMITS["CartPole-v1"],
});
registerEnv({
  name: "Acrobot-v1",
  description: "swing a two-link pendulum above the bar (Gymnasium classic control); 6 observations, 3 actions",
  make: () => new AcrobotEnv(),
  maxEpisodeSteps: CLASSIC_TIME_LIMITS["Acrobot-v1"],
});
registerEnv({
  name: "MountainCar-v0",
  description: "drive an under-powered car up a hill (Gymnasium classic control); 2 observations, 3 actions",
  make: () => new MountainCarEnv(),
  maxEpisodeSteps: CLASSIC_TIME_LIMITS["MountainCar-v0"],
});
registerEnv({
  name: "LunarLander-v3",
  description: "land a lunar module on the pad (Gymnasium Box2D, on planck physics); 8 observations, 4 actions",
  make: () => new LunarLanderEnv(),
  maxEpisodeSteps: LUNAR_LANDER_TIME_LIMIT,
});
