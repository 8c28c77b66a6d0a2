// Loaded with `node --import`: makes the modules named in STAQ_TEST_HIDE unresolvable in this
// process, with the error Node gives. STAQ_TEST_HIDE is a comma-separated list of entries:
//   SPECIFIER       a package that is not installed ("Cannot find package 'vega' imported from ...");
//                   "vega,vega-lite": a project that depends on staq without its optional peer
//                   dependencies.
//   SPECIFIER=FILE  one that is found, but whose FILE is missing ("Cannot find module 'FILE'
//                   imported from ..."): an install broken inside, such as one without the
//                   MinAtar port's files (SPECIFIER is then the file URL the CLI imports).
// test/io/stack-fixtures.ts's runStaq sets both for a `hide` option.
import { register } from "node:module";

const entries = (process.env.STAQ_TEST_HIDE ?? "").split(",").filter((entry) => entry !== "");
if (entries.length === 0) throw new Error("hide-modules.ts: set STAQ_TEST_HIDE to the modules to hide");
/** Each hidden specifier, with the missing file it reports, or null for a package not installed. */
const hidden = Object.fromEntries(
  entries.map((entry) => {
    const equals = entry.indexOf("=");
    return equals === -1 ? [entry, null] : [entry.slice(0, equals), entry.slice(equals + 1)];
  }),
);

const hooks = `
const hidden = ${JSON.stringify(hidden)};
export async function resolve(specifier, context, next) {
  if (Object.hasOwn(hidden, specifier)) {
    const file = hidden[specifier];
    const error = file === null
      ? new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL)
      : new Error("Cannot find module '" + file + "' imported from " + context.parentURL);
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  }
  return next(specifier, context);
}
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
