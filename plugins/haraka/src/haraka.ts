/**
 * The small part of Haraka's objects this plugin reads (Haraka 3.x, connection.js / transaction.js / plugins.js).
 * Everything is optional or loosely typed on purpose: the plugin must survive a Haraka that differs.
 */

export type Next = (code?: number, msg?: unknown) => void;

export interface ResultStore {
  get(name: string): Record<string, unknown> | undefined;
}

export interface Transaction {
  uuid?: string;
  notes: Record<string, unknown>;
  results?: ResultStore;
  rcpt_count?: { accept: number; tempfail: number; reject: number };
  data_bytes?: number;
  /** Set when the data_post hooks start (null before). */
  data_post_start?: number | null;
  /** Seconds the data_post hooks took; 0 until then. */
  data_post_delay?: number;
  msg_status?: string;
}

export interface Connection {
  uuid?: string;
  state: number;
  notes: Record<string, unknown>;
  results?: ResultStore;
  transaction: Transaction | null;
  local: { port: number | null };
  tls: { enabled: boolean; cipher?: { version?: string } };
  current_line: string | null;
  awaiting_data_reply?: boolean;
  start_time?: number;
  respond: (code: number | string, msg: unknown, func?: () => void) => unknown;
}

/** What Haraka gives a plugin as `this` (a Plugin instance with our exports copied onto it). */
export interface HarakaPlugin {
  name: string;
  config: {
    get(name: string, opts?: unknown, cb?: () => void): unknown;
    get(name: string, cb?: () => void): unknown;
  };
  register_hook(hook: string, method: string, priority?: number): void;
  loginfo(...args: unknown[]): void;
  lognotice(...args: unknown[]): void;
  logwarn(...args: unknown[]): void;
  logerror(...args: unknown[]): void;
  logdebug(...args: unknown[]): void;
}

/** The Server object Haraka passes to init_master / init_child. */
export interface HarakaServer {
  cluster?: unknown;
}

/** haraka-constants: the codes a hook returns and that `deny` reports (params[0]). */
export const DENY_CODES: Readonly<Record<number, string>> = {
  902: 'DENY',
  903: 'DENYSOFT',
  904: 'DENYDISCONNECT',
  909: 'DENYSOFTDISCONNECT',
};

/** haraka-constants connection.state values. */
export const STATE_LOOP = 2;
export const STATE_DISCONNECTING = 99;
export const STATE_DISCONNECTED = 100;
