// Builds the vendored browser assets from the pinned npm packages (package-lock.json):
//   builder_ui/static/vendor/editor.js  — CodeMirror 6 + the rules language (global OPEditor)
//   tests/browser/vendor/axe.min.js     — axe-core, injected by the browser tests only
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
mkdirSync(join(root, "builder_ui", "static", "vendor"), { recursive: true });
mkdirSync(join(root, "tests", "browser", "vendor"), { recursive: true });
await build({
  entryPoints: [join(here, "src", "editor.js")],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "OPEditor",
  target: ["chrome90", "firefox90", "edge90"],
  legalComments: "eof",
  outfile: join(root, "builder_ui", "static", "vendor", "editor.js"),
});
copyFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), join(root, "tests", "browser", "vendor", "axe.min.js"));
console.log("built builder_ui/static/vendor/editor.js and tests/browser/vendor/axe.min.js");
