// Loaded with `node --import`: makes the packages vega and vega-lite unresolvable, with the error
// Node gives for a package that is not installed, as in a project that depends on staq without
// them (they are optional peer dependencies). STAQ_TEST_BROKEN_VEGA=1 instead fails the import
// as an install with a missing file inside vega would: found, but broken.
import { register } from "node:module";

const hooks = `
export async function resolve(specifier, context, next) {
  if (specifier === "vega" || specifier === "vega-lite") {
    const error = process.env.STAQ_TEST_BROKEN_VEGA === "1"
      ? new Error("Cannot find module '/somewhere/node_modules/vega/build/vega.module.js' imported from " + context.parentURL)
      : new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  }
  return next(specifier, context);
}
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
