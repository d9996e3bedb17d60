#!/usr/bin/env node
// Names every Debian package the tests need that this machine lacks, and how to install them.
const { readFileSync, existsSync } = require('node:fs');
const { join, delimiter } = require('node:path');

const lines = readFileSync(join(__dirname, 'system-packages.txt'), 'utf8').split('\n');
const wanted = lines.filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.trim().split(/\s+/));
const dirs = (process.env.PATH || '').split(delimiter).concat(['/usr/sbin', '/usr/bin', '/sbin']);
const missing = wanted.filter(([, cmd]) => !dirs.some((d) => existsSync(join(d, cmd))));
if (missing.length) {
  const pkgs = [...new Set(missing.map(([p]) => p))];
  console.error(`Missing system packages for the tests: ${pkgs.join(' ')} (commands: ${missing.map(([, c]) => c).join(', ')}).`);
  console.error('Install them with: scripts/install-test-deps.sh   (or: apt-get install ' + pkgs.join(' ') + ')');
  process.exit(1);
}
