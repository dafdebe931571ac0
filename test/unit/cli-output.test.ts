// The CLI's output: boxed tables, Field/Value tables, JSON, -o value and -c,
// and the words it uses for API values and failures.

import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { eventLine } from '../../src/cli/commands/watch.js';
import { formatDuration } from '../../src/cli/commands/status.js';
import { statusText } from '../../src/cli/display.js';
import { connectProblem, describeServiceError, UsageError } from '../../src/cli/errors.js';
import { type Column, formatFields, formatTable, Printer, toJson } from '../../src/cli/output.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';

describe('formatTable', () => {
  it('draws an openstack-style box sized to the widest cell', () => {
    expect(formatTable(['ID', 'Name'], [['1', 'alpha'], ['22', '']])).toBe(
      [
        '+----+-------+',
        '| ID | Name  |',
        '+----+-------+',
        '| 1  | alpha |',
        '| 22 |       |',
        '+----+-------+',
        '',
      ].join('\n'),
    );
  });

  it('spreads a cell with newlines over several lines of its row', () => {
    expect(formatTable(['IPs', 'X'], [['10.0.0.1\n10.0.0.22', 'a']])).toBe(
      [
        '+-----------+---+',
        '| IPs       | X |',
        '+-----------+---+',
        '| 10.0.0.1  | a |',
        '| 10.0.0.22 |   |',
        '+-----------+---+',
        '',
      ].join('\n'),
    );
  });

  it('prints the header of an empty table, so empty is visibly empty', () => {
    expect(formatTable(['ID'], [])).toBe(['+----+', '| ID |', '+----+', ''].join('\n'));
  });

  it('pads by characters, not bytes', () => {
    const lines = formatTable(['N'], [['café'], ['abcd']]).split('\n');
    expect(lines[3]!.length).toBe(lines[4]!.length);
  });

  it('formatFields is a Field/Value table', () => {
    expect(formatFields([['mtu', '1450']])).toContain('| Field | Value |\n');
    expect(formatFields([['mtu', '1450']])).toContain('| mtu   | 1450  |\n');
  });
});

describe('toJson', () => {
  it('drops proto-loader\'s synthetic "_field" keys of proto3 optionals, keeps real oneof names', () => {
    const port = { id: 'p', adminStateUp: true, _adminStateUp: 'adminStateUp', binding: 'local', local: { interfaceName: 'tap0' } };
    expect(JSON.parse(toJson(port))).toEqual({ id: 'p', adminStateUp: true, binding: 'local', local: { interfaceName: 'tap0' } });
  });

  it('one line with indent 0 (for watch -o json)', () => {
    expect(toJson({ a: [1] }, 0)).toBe('{"a":[1]}');
  });
});

interface Item {
  id: string;
  name: string;
  ips: string[];
}
const VIEW: Column<Item>[] = [
  { key: 'id', header: 'ID', get: (i) => i.id, inList: true },
  { key: 'name', header: 'Name', get: (i) => i.name, inList: true },
  { key: 'fixed_ips', header: 'Fixed IPs', get: (i) => i.ips.join('\n') },
  { key: 'ip_summary', header: 'IPs', get: (i) => i.ips.join(','), inList: true, inShow: false },
];
const ITEMS: Item[] = [
  { id: 'a', name: 'one', ips: ['10.0.0.1', '10.0.0.2'] },
  { id: 'b', name: 'two', ips: [] },
];

function print(format: 'table' | 'json' | 'value', columns: string[], use: (p: Printer<Item>) => void): string {
  let out = '';
  use(Printer.for({ write: (s: string) => (out += s) }, { format, columns }, VIEW));
  return out;
}

describe('Printer', () => {
  it('list: the inList columns; show: every column but the list-only summaries', () => {
    const list = print('table', [], (p) => p.list(ITEMS));
    expect(list).toContain('| ID | Name | IPs               |');
    expect(list).not.toContain('Fixed IPs');
    const show = print('table', [], (p) => p.show(ITEMS[0]!));
    expect(show).toContain('| fixed_ips | 10.0.0.1 |');
    expect(show).not.toContain('ip_summary');
  });

  it('-c picks columns by key or header, in the order given, ignoring case and - _ space', () => {
    expect(print('value', ['Name', 'ID'], (p) => p.list(ITEMS))).toBe('one a\ntwo b\n');
    expect(print('value', ['fixed-ips'], (p) => p.show(ITEMS[0]!))).toBe('10.0.0.1\n10.0.0.2\n');
    expect(print('value', ['ip_summary'], (p) => p.show(ITEMS[0]!))).toBe('10.0.0.1,10.0.0.2\n');
  });

  it('an unknown -c is a usage error before anything is printed or called', () => {
    expect(() => print('table', ['nope'], () => {})).toThrow(UsageError);
    expect(() => print('table', ['nope'], () => {})).toThrow('unknown column "nope" (columns: id, name, fixed_ips, ip_summary)');
  });

  it('json is the objects as given, whatever -c says', () => {
    expect(JSON.parse(print('json', ['id'], (p) => p.list(ITEMS)))).toEqual(ITEMS);
    expect(JSON.parse(print('json', [], (p) => p.show(ITEMS[1]!)))).toEqual(ITEMS[1]);
  });
});

describe('words', () => {
  const status = (state: string, code = '', message = ''): pb.ResourceStatus__Output =>
    ({ state, code, message, revision: '1' }) as pb.ResourceStatus__Output;

  it('status: the state, and for ERROR why', () => {
    expect(statusText(status('RESOURCE_STATE_ACTIVE'))).toBe('ACTIVE');
    expect(statusText(status('RESOURCE_STATE_ERROR', 'RESOURCE_EXHAUSTED', 'map xdpnet_fdb is full'))).toBe(
      'ERROR: RESOURCE_EXHAUSTED: map xdpnet_fdb is full',
    );
    expect(statusText(null)).toBe('');
  });

  it('durations', () => {
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(125_000)).toBe('2m 5s');
    expect(formatDuration(3 * 3600_000 + 60_000)).toBe('3h 1m');
    expect(formatDuration(50 * 3600_000)).toBe('2d 2h');
  });

  it('watch lines: time, type, kind, id, revision, status, name (quoted when it has spaces)', () => {
    const e = {
      type: 'MODIFIED',
      kind: 'RESOURCE_KIND_FLOATING_IP',
      id: 'f1',
      revision: '7',
      resource: 'floatingIp',
      floatingIp: { status: status('RESOURCE_STATE_ERROR', 'UNIMPLEMENTED', 'no NAT yet') },
    } as unknown as pb.WatchEvent__Output;
    expect(eventLine(e, new Date(0))).toBe('1970-01-01T00:00:00.000Z MODIFIED floatingip f1 revision=7 status="ERROR: UNIMPLEMENTED: no NAT yet"');
    const synced = { type: 'SYNCED', kind: 'RESOURCE_KIND_UNSPECIFIED', id: '', revision: '9' } as pb.WatchEvent__Output;
    expect(eventLine(synced, new Date(0))).toMatch(/^1970-01-01T00:00:00.000Z SYNCED revision=9 /);
  });
});

describe('failures', () => {
  const err = (code: grpc.status, details: string): grpc.ServiceError =>
    Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });

  it('a refusal is its code name and the daemon\'s message, which names the field', () => {
    expect(describeServiceError(err(grpc.status.INVALID_ARGUMENT, 'port.mac_address: is multicast'), 'socket /s', 10)).toBe(
      'INVALID_ARGUMENT: port.mac_address: is multicast',
    );
  });

  it('an unreachable daemon: where, why in one word, and what to check', () => {
    const message = describeServiceError(
      err(grpc.status.UNAVAILABLE, 'No connection established. Last error: Error: connect ENOENT /run/x.sock. Resolution note: '),
      'socket /run/x.sock',
      10,
    );
    expect(message).toBe('cannot reach xdpnetd on socket /run/x.sock: ENOENT (no such socket)\n  is xdpnetd running? check: systemctl status xdpnetd');
  });

  it('permission denied on the socket says to run as root', () => {
    const message = describeServiceError(err(grpc.status.UNAVAILABLE, 'connect EACCES /run/x.sock'), 'socket /run/x.sock', 10);
    expect(message).toContain('EACCES (permission denied)');
    expect(message).toContain('run as root');
  });

  it('a deadline names the timeout option', () => {
    expect(describeServiceError(err(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'), 'socket /s', 3)).toBe(
      'DEADLINE_EXCEEDED: no answer from xdpnetd on socket /s within 3 s (--timeout to wait longer)',
    );
  });

  it('connectProblem keeps other texts, minus grpc-js boilerplate', () => {
    expect(connectProblem('No connection established. Last error: Error: handshake failed. Resolution note: x')).toBe('handshake failed');
  });
});
