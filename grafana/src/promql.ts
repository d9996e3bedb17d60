/**
 * A small PromQL reader for linting dashboard queries: which metric names a query selects, which function call
 * directly encloses each selector, and which label matchers it carries. Not a full parser: Prometheus itself
 * checks the syntax (test/grafana/queries.test.ts); this only has to tell metric names from functions,
 * keywords and label names.
 */

export interface Selector {
  /** Metric name (empty for a bare {__name__=~...} selector). */
  metric: string;
  /** The label matchers, as written inside the braces (empty when there are none). */
  matchers: string;
  /** The function whose parentheses directly enclose this selector (rate, sum, ...), or null. */
  enclosingFunction: string | null;
}

const AGGREGATIONS = new Set(['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'limitk', 'limit_ratio']);
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', ...LABEL_LIST_KEYWORDS]);

type Token = { kind: 'ident' | 'string' | 'number' | 'punct' | 'op'; text: string };

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      tokens.push({ kind: 'string', text: expr.slice(i, j + 1) });
      i = j + 1;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?([smhdwy]|ms)*)/.exec(expr.slice(i))!;
      tokens.push({ kind: 'number', text: m[0] || c });
      i += m[0].length || 1;
    } else if (/[a-zA-Z_:$]/.test(c)) {
      const m = /^\$?[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
      const text = m ? m[0] : c;
      tokens.push({ kind: 'ident', text });
      i += text.length;
    } else if ('(){}[],'.includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else {
      tokens.push({ kind: 'op', text: c });
      i++;
    }
  }
  return tokens;
}

/** Every series selector of a query, with its matchers and the function call directly around it. */
export function selectors(expr: string): Selector[] {
  const tokens = tokenize(expr);
  const found: Selector[] = [];
  /** One entry per open parenthesis: the function it belongs to, or null for grouping. */
  const parens: (string | null)[] = [];
  let pendingFunction: string | null = null;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const next = tokens[i + 1];
    if (t.kind === 'punct' && t.text === '[') {
      while (i < tokens.length && tokens[i].text !== ']') i++; // range or subquery duration
      continue;
    }
    if (t.kind === 'punct' && t.text === '(') {
      parens.push(pendingFunction);
      pendingFunction = null;
      continue;
    }
    if (t.kind === 'punct' && t.text === ')') {
      parens.pop();
      continue;
    }
    if (t.kind === 'punct' && t.text === '{') {
      // A selector without a metric name: {__name__=~"..."}.
      const end = closing(tokens, i, '{', '}');
      found.push({ metric: '', matchers: joinTokens(tokens.slice(i + 1, end)), enclosingFunction: parens.length ? parens[parens.length - 1] : null });
      i = end;
      continue;
    }
    if (t.kind !== 'ident') continue;
    if (LABEL_LIST_KEYWORDS.has(t.text) && next?.text === '(') {
      i = closing(tokens, i + 1, '(', ')'); // by (zone, outcome): label names
      continue;
    }
    if (KEYWORDS.has(t.text) || t.text.startsWith('$')) continue;
    if (next?.text === '(' || AGGREGATIONS.has(t.text)) {
      pendingFunction = t.text; // a function or an aggregation (its parenthesis may follow a by/without clause)
      continue;
    }
    let matchers = '';
    if (next?.text === '{') {
      const end = closing(tokens, i + 1, '{', '}');
      matchers = joinTokens(tokens.slice(i + 2, end));
      i = end;
    }
    found.push({ metric: t.text, matchers, enclosingFunction: parens.length ? parens[parens.length - 1] : null });
  }
  return found;
}

function closing(tokens: Token[], open: number, o: string, c: string): number {
  let depth = 0;
  for (let j = open; j < tokens.length; j++) {
    if (tokens[j].text === o) depth++;
    else if (tokens[j].text === c && --depth === 0) return j;
  }
  return tokens.length - 1;
}

function joinTokens(tokens: Token[]): string {
  return tokens.map((t) => t.text).join('');
}

/** Metric names a query reads (a bare {__name__=~"a|b"} selector counts each alternative). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const s of selectors(expr)) {
    if (s.metric) names.add(s.metric);
    const byName = /__name__=~?"([^"]*)"/.exec(s.matchers);
    if (byName) for (const n of byName[1].split('|')) names.add(n);
  }
  return [...names];
}

/** The functions that turn a counter into something meaningful. */
export const COUNTER_FUNCTIONS = new Set(['rate', 'irate', 'increase']);
