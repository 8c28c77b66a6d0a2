// Loaded with `node --import`: makes `staq/envs/minatar` unresolvable, as in an unbuilt checkout
// (the CLI loads the GPL-3.0 subpath by its package name, which resolves to dist/), so that
// `staq check-env` meets a MinAtar file it cannot check for a reason other than the file, and
// `staq envs` has no MinAtar games to list.
import { register } from "node:module";

const hooks = `
export async function resolve(specifier, context, next) {
  if (specifier === "staq/envs/minatar") {
    const error = new Error("Cannot find module '/somewhere/dist/envs/minatar/index.js' imported from " + context.parentURL);
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  }
  return next(specifier, context);
}
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
