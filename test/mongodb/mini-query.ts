/**
 * The part of MongoDB's query language the mock mongod needs to answer the exporter's queue queries the way
 * mongod would: query filters ($gt, $lte, $in, $ne, $exists, $or, $and; comparisons bracketed by type as in
 * find), aggregation expressions ($cond, $and, $eq, $ne, $lt(e), $gt(e); total BSON order), $match, $group
 * ($sum, $min, $max, $first), sort and limit. Anything else throws, so a query the mock cannot judge fails
 * loudly instead of answering something MongoDB would not.
 */
import type { Document } from 'mongodb';

/** BSON comparison order of types (numbers share one rank). */
function typeRank(v: unknown): number {
  if (v === undefined || v === null) return 1;
  if (typeof v === 'number' || typeof v === 'bigint') return 2;
  if (typeof v === 'string') return 3;
  if (Array.isArray(v)) return 5;
  if (typeof v === 'boolean') return 8;
  if (v instanceof Date) return 9;
  if (typeof v === 'object' && (v as { _bsontype?: string })._bsontype === 'ObjectId') return 7;
  if (typeof v === 'object') return 4;
  throw new Error(`mini-query: cannot compare ${typeof v}`);
}

export function compare(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1) return 0;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (ra === 7) return String(a).localeCompare(String(b));
  if (ra === 2 || ra === 8) return Number(a) - Number(b);
  if (ra === 3) return a! < b! ? -1 : a! > b! ? 1 : 0;
  return JSON.stringify(a).localeCompare(JSON.stringify(b));
}

/** Value at a dotted path; undefined when any step is missing. */
export function getPath(doc: Document, path: string): unknown {
  let v: unknown = doc;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Document)[part];
  }
  return v;
}

const isOperatorObject = (v: unknown): v is Document =>
  v !== null && typeof v === 'object' && !(v instanceof Date) && !Array.isArray(v) && Object.keys(v).some((k) => k.startsWith('$'));

function fieldMatches(value: unknown, cond: unknown): boolean {
  if (!isOperatorObject(cond)) return compare(value, cond) === 0;
  return Object.entries(cond).every(([op, arg]) => {
    // find compares only within a type bracket: {queued: {$gt: date}} never matches a missing field.
    const sameType = typeRank(value) === typeRank(arg);
    switch (op) {
      case '$eq':
        return compare(value, arg) === 0;
      case '$ne':
        return compare(value, arg) !== 0;
      case '$gt':
        return sameType && compare(value, arg) > 0;
      case '$gte':
        return sameType && compare(value, arg) >= 0;
      case '$lt':
        return sameType && compare(value, arg) < 0;
      case '$lte':
        return sameType && compare(value, arg) <= 0;
      case '$in':
        return (arg as unknown[]).some((x) => compare(value, x) === 0);
      case '$nin':
        return !(arg as unknown[]).some((x) => compare(value, x) === 0);
      case '$exists':
        return (value !== undefined) === Boolean(arg);
      default:
        throw new Error(`mini-query: unsupported query operator ${op}`);
    }
  });
}

export function matches(doc: Document, filter: Document): boolean {
  return Object.entries(filter).every(([key, cond]) => {
    if (key === '$or') return (cond as Document[]).some((f) => matches(doc, f));
    if (key === '$and') return (cond as Document[]).every((f) => matches(doc, f));
    if (key.startsWith('$')) throw new Error(`mini-query: unsupported top-level operator ${key}`);
    return fieldMatches(getPath(doc, key), cond);
  });
}

export function evalExpr(expr: unknown, doc: Document): unknown {
  if (typeof expr === 'string' && expr.startsWith('$')) return getPath(doc, expr.slice(1));
  if (!isOperatorObject(expr)) return expr;
  const [op, arg] = Object.entries(expr)[0];
  const args = (Array.isArray(arg) ? arg : [arg]).map((a) => evalExpr(a, doc));
  switch (op) {
    case '$cond':
      return args[0] ? args[1] : args[2];
    case '$and':
      return args.every(Boolean);
    case '$or':
      return args.some(Boolean);
    case '$eq':
      return compare(args[0], args[1]) === 0;
    case '$ne':
      return compare(args[0], args[1]) !== 0;
    case '$lt':
      return compare(args[0], args[1]) < 0;
    case '$lte':
      return compare(args[0], args[1]) <= 0;
    case '$gt':
      return compare(args[0], args[1]) > 0;
    case '$gte':
      return compare(args[0], args[1]) >= 0;
    default:
      throw new Error(`mini-query: unsupported expression ${op}`);
  }
}

function group(docs: Document[], spec: Document): Document[] {
  const groups = new Map<string, Document>();
  for (const doc of docs) {
    const id = evalExpr(spec._id, doc) ?? null;
    const key = JSON.stringify(id);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { _id: id }));
    for (const [field, acc] of Object.entries(spec)) {
      if (field === '_id') continue;
      const [op, arg] = Object.entries(acc as Document)[0];
      const v = evalExpr(arg, doc);
      switch (op) {
        case '$sum':
          g[field] = (g[field] ?? 0) + (typeof v === 'number' ? v : 0);
          break;
        case '$min':
          if (v !== undefined && v !== null && (g[field] === undefined || compare(v, g[field]) < 0)) g[field] = v;
          break;
        case '$max':
          if (v !== undefined && v !== null && (g[field] === undefined || compare(v, g[field]) > 0)) g[field] = v;
          break;
        case '$first':
          if (!(field in g)) g[field] = v ?? null;
          break;
        default:
          throw new Error(`mini-query: unsupported accumulator ${op}`);
      }
    }
    // Accumulators over no value give null, as in MongoDB.
  }
  return [...groups.values()].map((g) => {
    for (const field of Object.keys(spec)) if (!(field in g)) g[field] = null;
    return g;
  });
}

export function sortDocs(docs: Document[], sort: Document): Document[] {
  const entries = Object.entries(sort);
  if (entries.length === 1 && entries[0][0] === '$natural') return entries[0][1] < 0 ? [...docs].reverse() : [...docs];
  return [...docs].sort((a, b) => {
    for (const [field, dir] of entries) {
      const c = compare(getPath(a, field), getPath(b, field));
      if (c !== 0) return dir < 0 ? -c : c;
    }
    return 0;
  });
}

export function runPipeline(docs: Document[], pipeline: Document[]): Document[] {
  let out = docs;
  for (const stage of pipeline) {
    const [name, arg] = Object.entries(stage)[0];
    switch (name) {
      case '$match':
        out = out.filter((d) => matches(d, arg));
        break;
      case '$group':
        out = group(out, arg);
        break;
      case '$sort':
        out = sortDocs(out, arg);
        break;
      case '$limit':
        out = out.slice(0, arg);
        break;
      default:
        throw new Error(`mini-query: unsupported stage ${name}`);
    }
  }
  return out;
}
