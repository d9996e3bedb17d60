#!/usr/bin/env node
/**
 * Builds both plugin packages: src/index.ts and the kit code it uses (the web server, web config, bcrypt
 * worker, bounded labels, address parser) bundled with their npm dependencies into dist/, so each
 * `npm pack` tarball is self-contained and installs alone into Haraka's or ZoneMTA's node_modules.
 * The kit code is the same code the exporters run, not a copy. `node plugins/build.js [haraka|zonemta]`.
 */
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const esbuild = require('esbuild');

const ROOT = path.resolve(__dirname, '..');

async function build(name) {
  const dir = path.join(__dirname, name);
  const outdir = path.join(dir, 'dist');
  fs.rmSync(outdir, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: {
      index: path.join(dir, 'src/index.ts'),
      // BasicAuth starts it as a worker thread from beside the bundle (exporters/kit/bcrypt-pool.ts).
      'bcrypt-worker': path.join(ROOT, 'exporters/kit/bcrypt-worker.ts'),
    },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // esbuild only: the kit's fallback for running from TypeScript sources, never taken in a bundle.
    external: ['esbuild'],
    logLevel: 'warning',
    legalComments: 'eof',
  });
}

const names = process.argv.slice(2);
Promise.all((names.length ? names : ['haraka', 'zonemta']).map(build)).catch((err) => {
  console.error(err.message);
  process.exit(1);
});
