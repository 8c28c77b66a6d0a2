// Builds the browser side of staq into dist/ (run by `npm run build`):
//   dist/browser/staq.js   the portable core, the classic-control environments and LunarLander-v3
//                          as one ES module (WGSL and planck embedded), for a <script
//                          type="module"> or any bundler;
//   dist/demo/             the demo pages (demo/*.html, demo/*.css) and their scripts, which
//                          import the library only through ../browser/staq.js, as a page of
//                          yours would.
// esbuild is the bundler tsx already brings.
import { build, type Plugin } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const libraryEntry = join(root, "src", "index.ts");
const demoDir = join(root, "demo");
const browserOut = join(root, "dist", "browser");
const demoOut = join(root, "dist", "demo");

/** The demo pages' entry scripts: demo/<name>-page.ts → dist/demo/<name>-page.js. */
const pageScripts = readdirSync(demoDir).filter((name) => name.endsWith("-page.ts"));

/**
 * In the demo scripts, `../src/index.ts` is the library: it becomes an import of the bundle
 * (../browser/staq.js) instead of a second copy. Any other import from src/ is an error, so the
 * demo uses only what the bundle exports.
 */
const libraryAsBundle: Plugin = {
  name: "staq-library-as-bundle",
  setup(builder) {
    builder.onResolve({ filter: /\/src\// }, (args) => {
      const path = join(args.resolveDir, args.path);
      if (path === libraryEntry) return { path: "../browser/staq.js", external: true };
      return {
        errors: [
          {
            text: `${relative(root, args.importer)} imports ${args.path}: demo scripts import the library only from ../src/index.ts (the bundle's exports)`,
          },
        ],
      };
    });
  },
};

const started = performance.now();
mkdirSync(browserOut, { recursive: true });
mkdirSync(demoOut, { recursive: true });

await build({
  entryPoints: { staq: libraryEntry },
  outdir: browserOut,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  legalComments: "inline",
  logLevel: "warning",
});

await build({
  entryPoints: pageScripts.map((name) => join(demoDir, name)),
  outdir: demoOut,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  plugins: [libraryAsBundle],
  logLevel: "warning",
});

for (const name of readdirSync(demoDir)) {
  if (/\.(html|css|svg|png)$/.test(name)) copyFileSync(join(demoDir, name), join(demoOut, name));
}

const size = (statSync(join(browserOut, "staq.js")).size / 1024).toFixed(0);
console.log(
  `browser bundle: dist/browser/staq.js (${size} KiB), demo: dist/demo/ (${pageScripts.length} page scripts) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
