// Bundles the extension (dist/extension.js, what VS Code loads) and the pure launch
// module (dist/launch.js, what scripts/print-launch.js and the Python protocol test use).
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  sourcemap: false,
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: ['src/extension.ts'],
  outfile: 'dist/extension.js',
  external: ['vscode'],
  minify: true,
  keepNames: true,
});

await build({
  ...common,
  entryPoints: ['src/launch.ts'],
  outfile: 'dist/launch.js',
  // launch.ts must stay free of `vscode`: fail the build if it ever pulls it in.
  plugins: [
    {
      name: 'no-vscode',
      setup(b) {
        b.onResolve({ filter: /^vscode$/ }, () => ({ errors: [{ text: 'launch.ts must not import vscode' }] }));
      },
    },
  ],
});
console.log('built dist/extension.js and dist/launch.js');
