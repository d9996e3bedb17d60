/**
 * The root `pretest` script (npm run build) bundles the plugins; `npx jest` alone may not have. Build one
 * here when its dist is missing or older than its sources or the kit code it bundles, so a test never runs
 * stale plugin code.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function newest(dir: string): number {
  return Math.max(...fs.readdirSync(dir).map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
}

export function ensurePluginBuilt(name: 'haraka' | 'zonemta'): void {
  const pluginDir = path.join(ROOT, 'plugins', name);
  const dist = path.join(pluginDir, 'dist/index.js');
  const sources = Math.max(newest(path.join(pluginDir, 'src')), newest(path.join(ROOT, 'exporters/kit')), fs.statSync(path.join(ROOT, 'plugins/build.js')).mtimeMs);
  const fresh = () => fs.existsSync(dist) && fs.statSync(dist).mtimeMs >= sources;
  if (fresh()) return;
  // Test files run in parallel workers: one builds, the others wait for it (mkdir is atomic).
  const lock = path.join(os.tmpdir(), `tinomail-${name}-build-${Buffer.from(pluginDir).toString('hex').slice(-32)}.lock`);
  try {
    fs.mkdirSync(lock);
  } catch {
    const deadline = Date.now() + 60000;
    while (fs.existsSync(lock) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    if (fresh()) return;
    fs.rmSync(lock, { recursive: true, force: true }); // a stale lock from a killed run
    fs.mkdirSync(lock);
  }
  try {
    if (fresh()) return;
    execFileSync(process.execPath, [path.join(ROOT, 'plugins/build.js'), name], { cwd: ROOT, stdio: 'inherit' });
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
