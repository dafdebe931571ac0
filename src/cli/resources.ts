// What the five resource kinds share: get, list (paged) and delete, and the
// `list`, `show` and `delete` subcommands built from them. Create and set
// differ per kind and live in commands/<kind>.ts.

import * as grpc from '@grpc/grpc-js';
import { type Command, Option } from 'commander';
import type * as pb from '../gen/proto/xdpnet/v1/index.js';
import type { Column } from './output.js';
import { parseInteger } from './parse-specs.js';
import { UsageError } from './errors.js';
import { action, ApiError, type Io, type Session } from './session.js';

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export interface KindApi<T> {
  /** For messages: "network", "floating IP". */
  noun: string;
  plural: string;
  get(s: Session, id: string): Promise<T>;
  list(s: Session, request: pb.ListRequest): Promise<Page<T>>;
  remove(s: Session, id: string): Promise<void>;
}

export interface ListOptions {
  pageSize?: number;
  pageToken?: string;
  all?: boolean;
  network?: string;
}

/**
 * One page (the default, as asked), or every page with --all. A further page
 * is announced on stderr with how to get it, so a truncated list is never
 * mistaken for the whole.
 */
export async function fetchList<T>(s: Session, api: KindApi<T>, opts: ListOptions): Promise<T[]> {
  const items: T[] = [];
  let pageToken = opts.pageToken ?? '';
  for (;;) {
    const page = await api.list(s, { pageSize: opts.pageSize ?? 0, pageToken, networkId: opts.network ?? '' });
    items.push(...page.items);
    pageToken = page.nextPageToken;
    if (pageToken === '') return items;
    if (!opts.all) {
      s.note(`(more ${api.plural} follow: --all lists every one, --page-token ${pageToken} the next page)`);
      return items;
    }
  }
}

export interface CommonOptions {
  /** Help for --network on list, when the kind can be filtered by network. */
  networkFilter?: string;
}

/** `<kind> list`, `<kind> show ID`, `<kind> delete ID [ID...]`. */
export function addCommonCommands<T>(io: Io, group: Command, api: KindApi<T>, view: readonly Column<T>[], common: CommonOptions = {}): void {
  const list = group
    .command('list')
    .description(`List ${api.plural} (one page unless --all)`)
    .option('--page-size <n>', 'how many per page, 1..1000 (default: the daemon\'s, 100)', parseInteger(1, 1000))
    .option('--page-token <token>', 'continue from where a previous list stopped')
    .option('--all', 'follow every page');
  if (common.networkFilter) list.option('--network <id>', common.networkFilter);
  list.action(
    action(io, async (s, opts: ListOptions) => {
      const out = s.printer(view);
      out.list(await fetchList(s, api, opts));
    }),
  );

  group
    .command('show')
    .description(`Show one ${api.noun}`)
    .argument('<id>', `${api.noun} ID`)
    .action(
      action(io, async (s, id: string) => {
        const out = s.printer(view);
        out.show(await api.get(s, id));
      }),
    );

  group
    .command('delete')
    .description(`Delete ${api.plural}`)
    .argument('<id...>', `${api.noun} IDs`)
    .action(action(io, async (s, ids: string[]) => deleteEach(s, api, ids)));
}

/**
 * Deletes each one. One failure does not stop the others (as openstack's
 * delete), but an unreachable daemon does: every other attempt would fail the
 * same way. With several IDs each failure is named by its ID.
 */
async function deleteEach<T>(s: Session, api: KindApi<T>, ids: string[]): Promise<void> {
  if (ids.length === 1) return api.remove(s, ids[0]!);
  let failed = 0;
  for (const id of ids) {
    try {
      await api.remove(s, id);
    } catch (err) {
      if (!(err instanceof ApiError) || err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) throw err;
      failed++;
      s.note(`xdpnet: ${api.noun} ${id}: ${err.message}`);
    }
  }
  if (failed) throw new ApiError(`${failed} of ${ids.length} ${api.plural} not deleted`, grpc.status.UNKNOWN);
}

/**
 * A list field on `set`, openstack's way: --x adds to the current list, --no-x
 * clears it (both: replace). commander stores --x and --no-x under one name,
 * and a plain --no-x would overwrite what --x collected; so both options feed
 * one ListEdit, whatever their order.
 */
export interface ListEdit<T> {
  clear: boolean;
  add: T[];
}

export function listEditOptions<T>(
  cmd: Command,
  o: { flag: string; arg: string; parse: (text: string) => T; add: string; clear: string },
): Command {
  return cmd
    .addOption(
      new Option(`--${o.flag} <${o.arg}>`, o.add).argParser((text: string, previous: ListEdit<T> | undefined) => ({
        clear: previous?.clear ?? false,
        add: [...(previous?.add ?? []), o.parse(text)],
      })),
    )
    .addOption(
      // preset: a negated flag then goes through the parser like a valued one.
      new Option(`--no-${o.flag}`, o.clear).preset('').argParser((_: string, previous: ListEdit<T> | undefined) => ({
        clear: true,
        add: previous?.add ?? [],
      })),
    );
}

/** Adding needs the list as it is: the API replaces lists whole and has no "append". */
export const needsCurrent = (edit: ListEdit<unknown> | undefined): boolean => edit !== undefined && !edit.clear;

/** The new list, or undefined when the option was not given (the field then stays out of the mask). */
export function applyListEdit<T>(current: readonly T[] | undefined, edit: ListEdit<T> | undefined, same: (a: T, b: T) => boolean): T[] | undefined {
  if (edit === undefined) return undefined;
  const list = edit.clear ? [] : [...(current ?? [])];
  for (const item of edit.add) if (!list.some((b) => same(b, item))) list.push(item);
  return list;
}

// ---------------------------------------------------------------- the five kinds

export const NETWORKS: KindApi<pb.Network__Output> = {
  noun: 'network',
  plural: 'networks',
  get: (s, id) => s.call<pb.Network__Output>((o, cb) => s.client.getNetwork({ id }, o, cb)),
  list: async (s, req) => {
    const r = await s.call<pb.ListNetworksResponse__Output>((o, cb) => s.client.listNetworks(req, o, cb));
    return { items: r.networks, nextPageToken: r.nextPageToken };
  },
  remove: async (s, id) => void (await s.call((o, cb) => s.client.deleteNetwork({ id }, o, cb))),
};

export const SUBNETS: KindApi<pb.Subnet__Output> = {
  noun: 'subnet',
  plural: 'subnets',
  get: (s, id) => s.call<pb.Subnet__Output>((o, cb) => s.client.getSubnet({ id }, o, cb)),
  list: async (s, req) => {
    const r = await s.call<pb.ListSubnetsResponse__Output>((o, cb) => s.client.listSubnets(req, o, cb));
    return { items: r.subnets, nextPageToken: r.nextPageToken };
  },
  remove: async (s, id) => void (await s.call((o, cb) => s.client.deleteSubnet({ id }, o, cb))),
};

export const PORTS: KindApi<pb.Port__Output> = {
  noun: 'port',
  plural: 'ports',
  get: (s, id) => s.call<pb.Port__Output>((o, cb) => s.client.getPort({ id }, o, cb)),
  list: async (s, req) => {
    const r = await s.call<pb.ListPortsResponse__Output>((o, cb) => s.client.listPorts(req, o, cb));
    return { items: r.ports, nextPageToken: r.nextPageToken };
  },
  remove: async (s, id) => void (await s.call((o, cb) => s.client.deletePort({ id }, o, cb))),
};

export const ROUTERS: KindApi<pb.Router__Output> = {
  noun: 'router',
  plural: 'routers',
  get: (s, id) => s.call<pb.Router__Output>((o, cb) => s.client.getRouter({ id }, o, cb)),
  list: async (s, req) => {
    const r = await s.call<pb.ListRoutersResponse__Output>((o, cb) => s.client.listRouters(req, o, cb));
    return { items: r.routers, nextPageToken: r.nextPageToken };
  },
  remove: async (s, id) => void (await s.call((o, cb) => s.client.deleteRouter({ id }, o, cb))),
};

export const FLOATING_IPS: KindApi<pb.FloatingIp__Output> = {
  noun: 'floating IP',
  plural: 'floating IPs',
  get: (s, id) => s.call<pb.FloatingIp__Output>((o, cb) => s.client.getFloatingIp({ id }, o, cb)),
  list: async (s, req) => {
    const r = await s.call<pb.ListFloatingIpsResponse__Output>((o, cb) => s.client.listFloatingIps(req, o, cb));
    return { items: r.floatingIps, nextPageToken: r.nextPageToken };
  },
  remove: async (s, id) => void (await s.call((o, cb) => s.client.deleteFloatingIp({ id }, o, cb))),
};

// ---------------------------------------------------------------- updates

/**
 * A partial resource and its update_mask, built field by field from `set`
 * options: a field joins the mask only when its option was given, so an
 * update never touches what the operator did not name.
 */
export class Update<T extends { id?: string }> {
  readonly resource: T;
  readonly mask: string[] = [];

  constructor(id: string) {
    this.resource = { id } as T;
  }

  /** `maskName` is the proto field name ("admin_state_up"); skipped when value is undefined. */
  field<V>(maskName: string, value: V | undefined, apply: (v: V) => Partial<T>): this {
    if (value === undefined) return this;
    Object.assign(this.resource, apply(value));
    if (!this.mask.includes(maskName)) this.mask.push(maskName);
    return this;
  }

  /** The API refuses an empty mask; say which options there are instead. */
  requireChanges(options: string): void {
    if (this.mask.length === 0) throw new UsageError(`nothing to change: give at least one of ${options}`);
  }
}

/** --enable / --disable (conflicting options) → admin_state_up, or undefined when neither is given. */
export const enabledFrom = (o: { enable?: boolean; disable?: boolean }): boolean | undefined =>
  o.enable ? true : o.disable ? false : undefined;

/** The uint32 range, for options whose meaningful range the daemon checks. */
export const parseUint32 = parseInteger(0, 4294967295);
