/**
 * Submitting a probe message: SMTP submission with nodemailer (STARTTLS or implicit TLS, AUTH from a password
 * file), ZoneMTA's HTTP `POST /send`, or WildDuck's `POST /users/:id/submit`. Each returns the MTA's queue id
 * when the answer names one, so the MTA can be asked about the message later.
 */
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import type { RouteConfig, SmtpSubmit, TlsOptions, WildDuckSubmit, ZoneMtaSubmit } from './config';
import { readSecret } from './config';
import { apiError, requestJson } from './http';

/** The header that carries `<route> <token>`; the probe finds its mail by it. */
export const PROBE_HEADER = 'X-Tinomail-Probe';

export interface ProbeMessage {
  route: string;
  token: string;
  from: string;
  to: string;
}

export interface SubmitResult {
  queueId?: string;
  /** WildDuck's submit keeps a copy in the user's Sent mailbox: where, so it can be deleted. */
  sentCopy?: { mailbox: string; id: number };
}

export interface Submitter {
  submit(msg: ProbeMessage, signal: AbortSignal): Promise<SubmitResult>;
  /** Deletes the copy the submission kept (WildDuck's Sent), if any. */
  deleteCopy?(copy: NonNullable<SubmitResult['sentCopy']>, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Counts the requests the probe makes, for `probe_requests_total` and the benchmark. */
export type OnRequest = () => void;

export function subject(msg: ProbeMessage): string {
  return `tinomail probe ${msg.route} ${msg.token}`;
}

function text(msg: ProbeMessage): string {
  return `This message was sent by tinomail-monitor probe (route ${msg.route}) to check that mail arrives.\r\nIt is deleted when found.\r\n`;
}

export function tlsConnectOptions(tls: TlsOptions, host: string): { ca?: Buffer; rejectUnauthorized: boolean; servername?: string } {
  return {
    ca: tls.caFile ? readFileSync(tls.caFile) : undefined,
    rejectUnauthorized: !tls.insecure,
    servername: tls.serverName ?? (/^[\d.:]+$/.test(host) ? undefined : host),
  };
}

/** `250 Message queued as 18c5e4...` (ZoneMTA), `250 2.0.0 OK ... queued as ABC123` (Postfix) and similar. */
export function queueIdFromResponse(response: string): string | undefined {
  const m = /queued as ([A-Za-z0-9._-]{1,80})/i.exec(response);
  return m?.[1];
}

class SmtpSubmitter implements Submitter {
  constructor(
    private readonly cfg: SmtpSubmit,
    /** The prober's deadline for the whole submission (its abort closes the connection sooner). */
    private readonly deadlineMs: number,
    private readonly onRequest: OnRequest,
  ) {}

  async submit(msg: ProbeMessage, signal: AbortSignal): Promise<SubmitResult> {
    const { cfg } = this;
    const transport = nodemailer.createTransport({
      host: cfg.host,
      port: cfg.port,
      secure: cfg.tls.mode === 'implicit',
      requireTLS: cfg.tls.mode === 'starttls',
      ignoreTLS: cfg.tls.mode === 'none',
      tls: tlsConnectOptions(cfg.tls, cfg.host),
      auth: cfg.user ? { user: cfg.user, pass: readSecret(cfg.passwordFile!, 'password') } : undefined,
      connectionTimeout: this.deadlineMs,
      greetingTimeout: this.deadlineMs,
      socketTimeout: this.deadlineMs,
      logger: false,
    });
    this.onRequest();
    const onAbort = () => transport.close();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const info = await transport.sendMail({
        from: msg.from,
        to: msg.to,
        subject: subject(msg),
        text: text(msg),
        headers: { [PROBE_HEADER]: `${msg.route} ${msg.token}` },
      });
      if (signal.aborted) throw new Error('aborted');
      return { queueId: queueIdFromResponse(String(info.response ?? '')) };
    } finally {
      signal.removeEventListener('abort', onAbort);
      transport.close();
    }
  }

  async close(): Promise<void> {}
}

/** ZoneMTA `POST /send` (api-server.js): a nodemailer-style JSON message; answers `{id, from, to, response}`. */
class ZoneMtaSubmitter implements Submitter {
  constructor(
    private readonly cfg: ZoneMtaSubmit,
    private readonly onRequest: OnRequest,
  ) {}

  async submit(msg: ProbeMessage, signal: AbortSignal): Promise<SubmitResult> {
    this.onRequest();
    const r = await requestJson('POST', `${this.cfg.url}/send`, {
      body: { from: msg.from, to: msg.to, subject: subject(msg), text: text(msg), headers: { [PROBE_HEADER]: `${msg.route} ${msg.token}` } },
      signal,
    });
    // A refusal by a plugin comes back as 200 with only a `message` (SMTPResponse), no id.
    if (r.status !== 200 || typeof r.body.id !== 'string') throw apiError('ZoneMTA /send', r);
    return { queueId: r.body.id };
  }

  async close(): Promise<void> {}
}

/** WildDuck `POST /users/:id/submit` (lib/api/submit.js): answers `{success, message: {mailbox, id, queueId}}`. */
class WildDuckSubmitter implements Submitter {
  constructor(
    private readonly cfg: WildDuckSubmit,
    private readonly onRequest: OnRequest,
  ) {}

  async submit(msg: ProbeMessage, signal: AbortSignal): Promise<SubmitResult> {
    const token = this.cfg.tokenFile ? readSecret(this.cfg.tokenFile, 'token') : undefined;
    this.onRequest();
    const r = await requestJson('POST', `${this.cfg.url}/users/${this.cfg.userId}/submit`, {
      token,
      body: { to: [{ address: msg.to }], subject: subject(msg), text: text(msg), headers: [{ key: PROBE_HEADER, value: `${msg.route} ${msg.token}` }] },
      signal,
    });
    if (r.status !== 200 || r.body.success !== true) throw apiError('WildDuck /submit', r);
    const m = (r.body.message ?? {}) as { mailbox?: unknown; id?: unknown; queueId?: unknown };
    return {
      queueId: typeof m.queueId === 'string' ? m.queueId : undefined,
      sentCopy: typeof m.mailbox === 'string' && typeof m.id === 'number' ? { mailbox: m.mailbox, id: m.id } : undefined,
    };
  }

  async deleteCopy(copy: { mailbox: string; id: number }, signal: AbortSignal): Promise<void> {
    const token = this.cfg.tokenFile ? readSecret(this.cfg.tokenFile, 'token') : undefined;
    this.onRequest();
    const r = await requestJson('DELETE', `${this.cfg.url}/users/${this.cfg.userId}/mailboxes/${copy.mailbox}/messages/${copy.id}`, { token, signal });
    // 404: already gone (deleted by hand, or an earlier attempt that lost its answer).
    if (r.status !== 200 && r.status !== 404) throw apiError('WildDuck API, deleting the Sent copy,', r);
  }

  async close(): Promise<void> {}
}

/**
 * A submission may take this long even on a route with a shorter timeout: one that is slow but goes through is a
 * round that missed its timeout (and its message may come late), not a refused submission.
 */
export const MIN_SUBMIT_MS = 10_000;

export function submitDeadlineMs(route: RouteConfig): number {
  return Math.max(route.timeoutMs, MIN_SUBMIT_MS);
}

export function createSubmitter(route: RouteConfig, onRequest: OnRequest): Submitter {
  const s = route.submit;
  if (s.method === 'smtp') return new SmtpSubmitter(s, submitDeadlineMs(route), onRequest);
  if (s.method === 'zonemta') return new ZoneMtaSubmitter(s, onRequest);
  return new WildDuckSubmitter(s, onRequest);
}
