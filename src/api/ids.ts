// Resource ids in requests: canonical UUIDs, any case in, lower-case out; a
// malformed one is INVALID_ARGUMENT naming the field (not NOT_FOUND).

import { parseUuid } from '../model/syntax.js';
import { Rejection } from '../model/types.js';

export function idArg(text: string, field: string): string {
  const parsed = parseUuid(text);
  if (!parsed.ok) throw new Rejection('INVALID_ARGUMENT', field, parsed.reason);
  return parsed.value;
}

/** An optional id filter: empty means none. */
export function optionalIdArg(text: string, field: string): string | undefined {
  return text === '' ? undefined : idArg(text, field);
}
