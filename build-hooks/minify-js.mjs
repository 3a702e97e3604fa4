// Trunk post-build hook: minifies the wasm-bindgen JS glue in release builds.
//
// Trunk 0.21 minifies JS with the `minify-js` crate (0.5.6), whose parser
// stops at the glue's last line, `export { initSync, __wbg_init as default }`
// ("Failed to minify JS: RequiredTokenNotFound(Identifier)"), and then ships
// the glue as it is. Terser reads it. Trunk has already written index.html
// with each file's subresource-integrity hash, so the hash is replaced too.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { minify } from "terser";

if (process.env.TRUNK_PROFILE !== "release") process.exit(0);

const staging = process.env.TRUNK_STAGING_DIR;
const indexPath = join(staging, "index.html");
const sri = (bytes) => "sha384-" + createHash("sha384").update(bytes).digest("base64");
let index = readFileSync(indexPath, "utf8");

for (const name of readdirSync(staging).filter((n) => n.endsWith(".js"))) {
  const path = join(staging, name);
  const source = readFileSync(path, "utf8");
  const { code } = await minify(source, {
    module: true,
    ecma: 2020,
    compress: { passes: 2 },
    format: { comments: false },
  });
  if (code.length >= source.length) continue;
  writeFileSync(path, code);
  const [before, after] = [sri(source), sri(code)];
  if (index.includes(before)) index = index.replaceAll(before, after);
  console.log(`minify-js: ${name} ${source.length} -> ${code.length} bytes`);
}
writeFileSync(indexPath, index);
