// Output: openstack-style boxed tables for people, JSON for scripts, bare
// values for shell pipelines (`-o value -c id`).
//
// One "view" per kind of thing shown lists its columns once; list and show,
// table and value all pick from it, so `-c mac_address` means the same
// field everywhere. JSON never goes through a view: it is the API object as
// returned (camelCase, uint64 as strings), so scripts see exactly the API.

import { UsageError } from './errors.js';

export type Format = 'table' | 'json' | 'value';
export const FORMATS: readonly Format[] = ['table', 'json', 'value'];

export interface Column<T> {
  /** snake_case field name: the Field column of `show`, and what -c matches first. */
  key: string;
  /** Header in list tables; defaults to the key. */
  header?: string;
  get(item: T): string;
  /** Shown by `list` (tables get too wide otherwise). */
  inList?: boolean;
  /** Shown by `show` unless false: for list-only summaries of what show spells out in full (still selectable with -c). */
  inShow?: boolean;
}

export interface Writer {
  write(text: string): unknown;
}

/** Display width of a string: code points, which is right for the ASCII and Latin text this prints. */
const width = (s: string): number => [...s].length;

const pad = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - width(s)));

/**
 * A boxed table, as openstack prints:
 *
 *   +----+------+
 *   | ID | Name |
 *   +----+------+
 *   | 1  | a    |
 *   +----+------+
 *
 * A cell with newlines spans several lines of its row (used for lists such as
 * fixed IPs). No rows still prints the header, so an empty list is visibly empty.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => headers.map((_, i) => (row[i] ?? '').split('\n')));
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((row) => Math.max(...row[i]!.map(width)))));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (values: readonly string[]): string => `| ${values.map((v, i) => pad(v, widths[i]!)).join(' | ')} |`;
  const out = [rule, line(headers), rule];
  for (const row of cells) {
    const height = Math.max(1, ...row.map((lines) => lines.length));
    for (let l = 0; l < height; l++) out.push(line(row.map((lines) => lines[l] ?? '')));
  }
  if (cells.length) out.push(rule);
  return `${out.join('\n')}\n`;
}

/** Field/Value table, as `openstack ... show` prints. */
export function formatFields(pairs: readonly (readonly [string, string])[]): string {
  return formatTable(['Field', 'Value'], pairs);
}

/**
 * JSON of an API object. Drops the synthetic "_field" keys proto-loader adds
 * for proto3 `optional` fields (they only say the field is set, which the
 * field itself already says); keeps real oneof names such as a port's
 * "binding": "local", which tell which member is present.
 */
export function toJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, (key, v: unknown) => (key.startsWith('_') ? undefined : v), indent);
}

/** -c matches a column by key or header, ignoring case and '-', '_', ' ' differences. */
const normalizeName = (s: string): string => s.toLowerCase().replace(/[-_ ]/g, '');

export interface PrintOptions {
  format: Format;
  /** -c: the columns to show, in this order; empty: the view's default. */
  columns: readonly string[];
}

/** Prints one view of one kind of thing in the chosen format. */
export class Printer<T> {
  private constructor(
    private readonly out: Writer,
    private readonly options: PrintOptions,
    private readonly view: readonly Column<T>[],
  ) {}

  /**
   * Checks -c against the view before anything is called, so a typo fails
   * before a create or delete has happened rather than after.
   */
  static for<T>(out: Writer, options: PrintOptions, view: readonly Column<T>[]): Printer<T> {
    const printer = new Printer(out, options, view);
    printer.selected('show');
    return printer;
  }

  private selected(mode: 'list' | 'show'): Column<T>[] {
    if (this.options.columns.length === 0) return this.view.filter((c) => (mode === 'list' ? c.inList : c.inShow !== false));
    return this.options.columns.map((name) => {
      const n = normalizeName(name);
      const column =
        this.view.find((c) => normalizeName(c.key) === n) ?? this.view.find((c) => c.header !== undefined && normalizeName(c.header) === n);
      if (!column) throw new UsageError(`unknown column "${name}" (columns: ${this.view.map((c) => c.key).join(', ')})`);
      return column;
    });
  }

  /** Many items: a table with a header row, or one line of values per item; JSON: the array as given. */
  list(items: readonly T[], json: unknown = items): void {
    if (this.options.format === 'json') {
      this.out.write(`${toJson(json)}\n`);
      return;
    }
    const columns = this.selected('list');
    const rows = items.map((item) => columns.map((c) => c.get(item)));
    if (this.options.format === 'value') {
      for (const row of rows) this.out.write(`${row.join(' ')}\n`);
      return;
    }
    this.out.write(formatTable(
      columns.map((c) => c.header ?? c.key),
      rows,
    ));
  }

  /** One item: Field/Value rows, or one value per line; JSON: the object as given. */
  show(item: T, json: unknown = item): void {
    if (this.options.format === 'json') {
      this.out.write(`${toJson(json)}\n`);
      return;
    }
    const columns = this.selected('show');
    if (this.options.format === 'value') {
      for (const c of columns) this.out.write(`${c.get(item)}\n`);
      return;
    }
    this.out.write(formatFields(columns.map((c) => [c.key, c.get(item)] as const)));
  }
}
