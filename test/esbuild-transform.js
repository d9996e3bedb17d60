/**
 * Jest transform: TypeScript to CommonJS with esbuild (already here through tsx). Type checking is
 * `npm run typecheck`'s job. Chosen over @swc/jest, whose per-platform binaries are not all on every registry
 * mirror, which leaves package-lock.json without them.
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: filename.endsWith('.ts') ? 'ts' : 'js',
      format: 'cjs',
      target: 'node20',
      sourcefile: filename,
      sourcemap: 'external',
    });
    return { code, map };
  },
};
