/**
 * The agent's Philox streams: each kind of draw is keyed by the run's seed with its own high word,
 * so acting, the soft Q fit and a user's own `act()` calls never perturb one another. The GPU agent
 * and the float64 reference agent both key their draws from here.
 */

/** The soft Q fit's draws (minibatch rows, next actions): seed | 2^32. */
export const SOFT_Q_FIT_STREAM = 1n << 32n;
/** Sampled actions of the user's `act()`: seed | 3·2^32 (collection acts with the seed itself). */
export const USER_ACT_STREAM = 3n << 32n;
/** MDPO's policy fit's draws (its minibatch rows): seed | 4·2^32. */
export const POLICY_FIT_STREAM = 4n << 32n;
/**
 * MDPO's initial policy network: seed 2^40 + run seed, apart from the Q-networks' seeds
 * (run seed · 64 + member, below 2^38 for any run seed < 2^32).
 */
export const policyInitialSeed = (seed: number): number => 2 ** 40 + seed;
