/** The landing page (`/`) of every exporter and plugin: what it watches, whether that is up, and links. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { redactUrl } from './log';
import type { WebHandler } from './web';

export interface LandingPage {
  title: string;
  description: string;
  /** Label and value rows (target, state, ...); values are redacted and escaped here. */
  rows: Array<[string, string]>;
  version: string;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Passwords in URLs, and tokens, keys or passwords in query strings, never reach a page or a log. */
export function redactSecrets(s: string): string {
  return redactUrl(s).replace(/([?&](?:access_?token|accesstoken|token|api_?key|key|password|pass|secret)=)[^&\s]*/gi, '$1xxxxx');
}

export function landingPage(page: LandingPage): string {
  const rows = page.rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(redactSecrets(v))}</td></tr>`).join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(page.title)}</title></head>
<body>
<h1>${escapeHtml(page.title)}</h1>
<p>${escapeHtml(page.description)}</p>
<table>
${rows}
</table>
<ul>
<li><a href="metrics">Metrics</a></li>
<li><a href="-/healthy">Health</a> and <a href="-/ready">readiness</a></li>
</ul>
<p>Version ${escapeHtml(page.version)}</p>
</body></html>
`;
}

/** "up", "down since ..." or "not scraped yet", from the last scrape. */
export function upState(last: { up: boolean; at: Date; error?: string } | undefined): string {
  if (!last) return 'not scraped yet';
  const when = last.at.toISOString();
  return last.up ? `up (last scrape ${when})` : `down (last scrape ${when}${last.error ? `: ${last.error}` : ''})`;
}

/** The `version` of the package.json in `dir` ('unknown' if unreadable). */
export function packageVersion(dir: string): string {
  try {
    return String(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

/** The routes a plugin serves: /metrics from `render`, health, readiness and its landing page. */
export function pluginRoutes(opts: {
  contentType: string;
  render(): Promise<string>;
  page(): LandingPage;
}): Record<string, WebHandler> {
  return {
    '/metrics': async () => ({ contentType: opts.contentType, body: await opts.render() }),
    '/-/healthy': () => ({ body: 'Healthy\n' }),
    '/-/ready': () => ({ body: 'Ready\n' }),
    '/': () => ({ contentType: 'text/html; charset=utf-8', body: landingPage(opts.page()) }),
  };
}
