// A desired-state file (JSON or YAML, shaped like SyncRequest with the
// proto's snake_case names) → the SyncRequest the client sends.
//
// The conversion walks the proto's own message descriptors rather than a
// hand-written field list, so it cannot drift from the API. It is strict on
// purpose: protobufjs silently drops unknown keys and coerces "abc" to 0, and
// for a call that DELETES everything not in the file, a typo such as
// `mac_adress` or an unquoted YAML value must fail loudly, naming the path
// (e.g. `ports[2].fixed_ips[0].ip_address`), instead of syncing a different
// state than the one written.
//
// camelCase keys are accepted too (it is what `-o json` prints), and so are
// the output-only fields of `-o json` (revision, status, router_id, the oneof
// name "binding"): the daemon ignores them, so exported objects can be fed back.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { packageDefinition } from '../api/proto.js';
import type * as pb from '../gen/proto/xdpnet/v1/index.js';
import { CliError } from './errors.js';

const PACKAGE = 'xdpnet.v1';

interface FieldDescriptor {
  /** camelCase, as proto-loader names fields. */
  name: string;
  label: string;
  type: string;
  typeName: string;
}

interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  oneofDecl: { name: string }[];
}

interface EnumDescriptor {
  value: { name: string; number: number }[];
}

function descriptor<T>(typeName: string): T {
  // Field type names come unqualified ("FixedIp") from proto-loader; tolerate qualified ones too.
  const full = typeName.startsWith(`${PACKAGE}.`) || typeName.startsWith(`.${PACKAGE}.`) ? typeName.replace(/^\./, '') : `${PACKAGE}.${typeName}`;
  const def = packageDefinition()[full] as { type?: T } | undefined;
  if (!def?.type) throw new Error(`no ${full} in the proto definition`);
  return def.type;
}

export const toSnake = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const toCamel = (snake: string): string => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A problem in the document, at a path like "ports[2].mac_address". */
class DocumentError extends Error {}

const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An enum value: its full name, or the part after the common prefix in any case ("vxlan" for NETWORK_TYPE_VXLAN). */
function convertEnum(value: unknown, typeName: string, path: string): string | number {
  const names = descriptor<EnumDescriptor>(typeName).value.map((v) => v.name);
  if (typeof value === 'number' && names.length > 0) return value;
  if (typeof value === 'string') {
    if (names.includes(value)) return value;
    const prefix = names[0]!.replace(/[^_]+$/, ''); // "NETWORK_TYPE_" from "NETWORK_TYPE_UNSPECIFIED"
    const full = prefix + value.toUpperCase();
    if (names.includes(full)) return full;
  }
  const shortNames = names.map((n) => n.replace(/^.*?_([A-Z0-9]+)$/, '$1').toLowerCase());
  throw new DocumentError(`${path}: expected one of ${shortNames.join(', ')} (or ${names.join(', ')}), got ${describe(value)}`);
}

const INT_RANGES: Record<string, [number, number]> = {
  TYPE_UINT32: [0, 4294967295],
  TYPE_INT32: [-2147483648, 2147483647],
};

function convertScalar(field: FieldDescriptor, value: unknown, path: string): unknown {
  switch (field.type) {
    case 'TYPE_STRING':
      // YAML reads 10.0 or 1234 as numbers; a silent String() would hide that the value is not what was meant.
      if (typeof value !== 'string') throw new DocumentError(`${path}: expected a string, got ${describe(value)} (quote it)`);
      return value;
    case 'TYPE_BOOL':
      if (typeof value !== 'boolean') throw new DocumentError(`${path}: expected true or false, got ${describe(value)}`);
      return value;
    case 'TYPE_UINT32':
    case 'TYPE_INT32': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      const [min, max] = INT_RANGES[field.type]!;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        throw new DocumentError(`${path}: expected a whole number ${min}..${max}, got ${describe(value)}`);
      }
      return n;
    }
    case 'TYPE_UINT64':
    case 'TYPE_INT64':
      if ((typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value))) return String(value);
      throw new DocumentError(`${path}: expected a whole number, got ${describe(value)}`);
    default:
      throw new DocumentError(`${path}: fields of type ${field.type} are not supported in a sync file`);
  }
}

function convertValue(field: FieldDescriptor, value: unknown, path: string): unknown {
  if (field.type === 'TYPE_MESSAGE') return convertMessage(value, field.typeName, path);
  if (field.type === 'TYPE_ENUM') return convertEnum(value, field.typeName, path);
  return convertScalar(field, value, path);
}

/** Converts one message; `path` is where it is, for messages ("" at the top). */
function convertMessage(value: unknown, typeName: string, path: string): Record<string, unknown> {
  const at = path === '' ? 'the document' : path;
  if (!isPlainObject(value)) throw new DocumentError(`${at}: expected a mapping (a ${typeName}), got ${describe(value)}`);
  const message = descriptor<MessageDescriptor>(typeName);
  const oneofs = new Set(message.oneofDecl.map((o) => o.name));
  const result: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const camel = toCamel(key);
    const field = message.field.find((f) => f.name === camel);
    const fieldPath = path === '' ? toSnake(camel) : `${path}.${toSnake(camel)}`;
    if (!field) {
      // The oneof's name as `-o json` prints it ("binding": "local"), and proto3-optional markers ("_admin_state_up").
      if ((oneofs.has(camel) && typeof raw === 'string') || key.startsWith('_')) continue;
      const known = message.field.map((f) => toSnake(f.name)).join(', ');
      throw new DocumentError(`${fieldPath}: unknown field of ${typeName} (fields: ${known})`);
    }
    if (camel in result) throw new DocumentError(`${fieldPath}: given twice (as snake_case and camelCase)`);
    if (raw === null || raw === undefined) continue; // YAML `key:` with nothing: absent, the proto default
    if (field.label === 'LABEL_REPEATED') {
      if (!Array.isArray(raw)) throw new DocumentError(`${fieldPath}: expected a list, got ${describe(raw)}`);
      result[camel] = raw.map((item, i) => convertValue(field, item, `${fieldPath}[${i}]`));
    } else {
      result[camel] = convertValue(field, raw, fieldPath);
    }
  }
  return result;
}

/** A parsed document (JSON or YAML) → SyncRequest; throws with the path of the first problem. */
export function syncRequestFromDocument(document: unknown): pb.SyncRequest {
  return convertMessage(document, 'SyncRequest', '') as pb.SyncRequest;
}

/** Reads FILE ("-": stdin) and converts it; every failure is a CliError naming the file. */
export function readSyncFile(file: string, readStdin: () => string = () => readFileSync(0, 'utf8')): pb.SyncRequest {
  const name = file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = file === '-' ? readStdin() : readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let document: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    document = parseYaml(text);
  } catch (err) {
    // The yaml package's message quotes the offending line between blank lines; keep it, drop the blanks.
    throw new CliError(`${name}: not valid JSON or YAML: ${(err as Error).message.replace(/\n\s*\n/g, '\n').trim()}`);
  }
  // An empty file would sync "nothing exists" and delete every resource: that must be said explicitly, e.g. `{}`.
  if (document === null || document === undefined) {
    throw new CliError(`${name} is empty: syncing it would delete every resource; to mean that, write {} in it`);
  }
  try {
    return syncRequestFromDocument(document);
  } catch (err) {
    if (err instanceof DocumentError) throw new CliError(`${name}: ${err.message}`);
    throw err;
  }
}
