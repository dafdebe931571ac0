// One text form per value, so that "is the dataplane's entry the one we want"
// is a string comparison. Object keys are sorted (a decoder may build objects
// in any field order); array order is kept (render sorts the arrays that are
// sets, so their order is already canonical).
//
// sameJson(a, b) answers the same question without building the strings:
// it is true exactly when canonicalJson(a) === canonicalJson(b), walks the two
// values side by side and stops at the first difference (an array that grew
// by one element is told apart by its length). The reconciler compares with
// it; canonicalJson stays the definition.

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** canonicalJson(a) === canonicalJson(b), without building either string. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'string' && tb === 'string') return false; // distinct strings, distinct JSON
  if (ta === 'boolean' && tb === 'boolean') return false;
  if (isPlain(a) && isPlain(b)) {
    if (Array.isArray(a)) {
      if (!Array.isArray(b)) return false; // "[...]" is never "{...}"
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (!sameJson(inArray(a[i]), inArray(b[i]))) return false;
      return true;
    }
    if (Array.isArray(b)) return false;
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    let count = 0;
    for (const k of Object.keys(ra)) {
      const va = ra[k];
      if (omitted(va)) continue;
      count++;
      if (!Object.prototype.hasOwnProperty.call(rb, k)) return false;
      const vb = rb[k];
      if (omitted(vb) || !sameJson(va, vb)) return false;
    }
    for (const k of Object.keys(rb)) if (!omitted(rb[k])) count--;
    return count === 0;
  }
  // Numbers (NaN and ±Infinity are all "null"), null against those, objects with
  // toJSON, class instances, undefined: let JSON decide.
  return canonicalJson(a) === canonicalJson(b);
}

/** A plain array or plain object without toJSON: serialised field by field. */
function isPlain(v: unknown): v is object {
  if (v === null || typeof v !== 'object') return false;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** JSON.stringify leaves these properties out of objects. */
const omitted = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/** ...and writes them as null in arrays. */
const inArray = (v: unknown): unknown => (omitted(v) ? null : v);
