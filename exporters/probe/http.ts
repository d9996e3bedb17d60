/** JSON over HTTP for the ZoneMTA and WildDuck APIs: one request, the status, the parsed body and its text. */
import { request } from 'undici';

export interface JsonResponse {
  status: number;
  /** Parsed JSON; an empty object when the answer was not a JSON object. */
  body: Record<string, unknown>;
  text: string;
}

/** Answers are small (API results, one probe message); anything larger is not what the probe asked for. */
const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

export async function requestJson(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  opts: { token?: string; body?: unknown; signal: AbortSignal },
): Promise<JsonResponse> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers['x-access-token'] = opts.token;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(url, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
    throwOnError: false,
  });
  const length = Number(res.headers['content-length'] ?? 0);
  if (length > MAX_RESPONSE_BYTES) {
    res.body.destroy();
    throw new Error(`${method} ${new URL(url).pathname}: answer of ${length} bytes is too large`);
  }
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const body = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  return { status: res.statusCode, body, text };
}

/** `HTTP 500: <the API's error text>` for a message (bounded; never a token). */
export function apiError(what: string, r: JsonResponse): Error {
  const b = r.body;
  const detail = typeof b.error === 'string' ? `: ${b.error.slice(0, 200)}` : typeof b.message === 'string' ? `: ${b.message.slice(0, 200)}` : '';
  return new Error(`${what} answered HTTP ${r.status}${detail}`);
}
