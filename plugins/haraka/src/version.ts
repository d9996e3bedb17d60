import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package's version (package.json beside dist/ and src/). */
export const VERSION = readVersion();

function readVersion(): string {
  try {
    return String(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}
