// One text form per value, so that "is the dataplane's entry the one we want"
// is a string comparison. Object keys are sorted (a decoder may build objects
// in any field order); array order is kept (render sorts the arrays that are
// sets, so their order is already canonical).

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
