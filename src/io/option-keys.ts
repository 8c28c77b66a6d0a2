/**
 * The check of an options object's keys: a misspelt option (`epsilonn`, `targetUpdates`) would
 * otherwise be ignored without a word and the default used in its place, so a call names the keys
 * it knows and refuses any other.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "./describe-value.ts";

/** Throws unless `options` is an object whose own keys are all in `known`; `call` names the caller in the message. */
export function checkOptionKeys(options: unknown, known: readonly string[], call: string): void {
  if (options === null || typeof options !== "object")
    throw new StaqInputError(`${call} needs an options object; got ${describeValue(options)}`);
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length > 0)
    throw new StaqInputError(`${call}: unknown option ${JSON.stringify(unknown[0])}; the options are: ${known.join(", ")}`);
}
