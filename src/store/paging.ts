// List paging: pages sorted by id, and opaque page tokens.
//
// A token is base64url of {"k":kind,"a":lastId,"n":networkFilter}: the next
// page starts after the last id returned, so it stays valid when resources are
// added or removed between pages (nothing present throughout is skipped or
// repeated). A token from another kind or another filter is refused.

import { upperBound } from '../model/resource-index.js';
import { isCanonicalUuid, parseUuid } from '../model/syntax.js';
import { Rejection, type ResourceKind } from '../model/types.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

interface Token {
  k: ResourceKind;
  a: string;
  n: string;
}

const badToken = (reason: string) => new Rejection('INVALID_ARGUMENT', 'page_token', reason);

export function encodePageToken(kind: ResourceKind, lastId: string, networkId: string | null): string {
  const token: Token = { k: kind, a: lastId, n: networkId ?? '' };
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

/** The id after which the page starts; null for the first page. */
export function decodePageToken(token: string | undefined, kind: ResourceKind, networkId: string | null): string | null {
  if (token === undefined || token === '') return null;
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{1,512}$/.test(token)) {
    throw badToken('is not a page token returned by this list');
  }
  let parsed: Partial<Token>;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<Token>;
  } catch {
    throw badToken('is not a page token returned by this list');
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.a !== 'string' || !isCanonicalUuid(parsed.a)) {
    throw badToken('is not a page token returned by this list');
  }
  if (parsed.k !== kind) throw badToken(`was returned by a list of another kind (${String(parsed.k)}), not ${kind}`);
  if ((parsed.n ?? '') !== (networkId ?? '')) throw badToken('was returned by a list with a different network_id filter');
  return parsed.a;
}

export function checkPageSize(size: number | undefined): number {
  if (size === undefined || size === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new Rejection('INVALID_ARGUMENT', 'page_size', `must be 1..${MAX_PAGE_SIZE} (0 or absent: ${DEFAULT_PAGE_SIZE}); got ${size}`);
  }
  return size;
}

/** The network filter in canonical form; null when absent. */
export function checkNetworkFilter(kind: ResourceKind, networkId: string | undefined): string | null {
  if (networkId === undefined || networkId === '') return null;
  if (kind === 'network' || kind === 'router') {
    throw new Rejection('INVALID_ARGUMENT', 'network_id', `is not a filter of ${kind}s (it filters subnets, ports and floating IPs)`);
  }
  const r = parseUuid(networkId);
  if (!r.ok) throw new Rejection('INVALID_ARGUMENT', 'network_id', r.reason);
  return r.value;
}

/**
 * One page of `sortedIds` (ascending) after `after`, keeping ids that `keep`
 * accepts. Returns the ids and whether anything accepted follows them.
 */
export function pageOf(
  sortedIds: readonly string[],
  after: string | null,
  size: number,
  keep: (id: string) => boolean = () => true,
): { ids: string[]; more: boolean } {
  const ids: string[] = [];
  for (let i = after === null ? 0 : upperBound(sortedIds, after); i < sortedIds.length; i++) {
    const id = sortedIds[i] as string;
    if (!keep(id)) continue;
    if (ids.length === size) return { ids, more: true };
    ids.push(id);
  }
  return { ids, more: false };
}
