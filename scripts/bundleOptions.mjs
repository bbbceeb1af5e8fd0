// esbuild options for bundles that run in Node (the extension host, the CLI, the log worker), shared
// by scripts/build.mjs and the e2e test that bundles a test entry point around the extension.
export const common = { bundle: true, sourcemap: 'linked', logLevel: 'warning' };

// web-tree-sitter reads import.meta.url to find itself; a CommonJS bundle has no import.meta, so
// give it the bundle's own URL. ES module builds first: jsonc-parser's UMD build requires its parts
// at run time, which a bundle cannot resolve.
export const nodeBundle = {
  ...common,
  platform: 'node',
  mainFields: ['module', 'main'],
  format: 'cjs',
  target: 'node20',
  define: { 'import.meta.url': 'import_meta_url' },
  banner: { js: "const import_meta_url = require('url').pathToFileURL(__filename).href;" },
};
