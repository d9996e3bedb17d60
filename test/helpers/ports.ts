/** The default ports of docs/ports.md, the one table every other file follows. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const PORTS_DOC = readFileSync(join(__dirname, '../../docs/ports.md'), 'utf8');

/** The port of the row whose first cell starts with `component`. */
export function documentedPort(component: string): number {
  const row = PORTS_DOC.split('\n').find((l) => l.startsWith(`| ${component}`));
  if (!row) throw new Error(`docs/ports.md has no row for ${component}`);
  const cell = row.split('|')[2];
  // `:9741`, `127.0.0.1:9748` or a bare 12080
  return Number((/:(\d+)`/.exec(cell) ?? /(\d+)/.exec(cell))?.[1]);
}

/** Every port of the first table ("This repository"). */
export function ourPorts(): number[] {
  const table = PORTS_DOC.split('## ')[1];
  return [...table.matchAll(/^\| [^|]+\| `[^`]*:(\d+)`/gm)].map((m) => Number(m[1]));
}
