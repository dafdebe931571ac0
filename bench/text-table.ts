// Aligned plain-text columns for the benchmark reports.

export type Align = 'left' | 'right';

export interface Column {
  header: string;
  align: Align;
}

/**
 * Lines of a table: the header, then each row, every column as wide as its
 * widest cell, two spaces apart, `indent` before each line, no trailing
 * spaces. A row that is `null` is a blank line (a group separator).
 */
export function textTable(columns: readonly Column[], rows: readonly (readonly string[] | null)[], indent = '  '): string[] {
  const width = columns.map((c, i) => Math.max(length(c.header), ...rows.map((r) => length(r?.[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    `${indent}${columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const pad = ' '.repeat(width[i]! - length(cell));
        return c.align === 'right' ? pad + cell : cell + pad;
      })
      .join('  ')}`.trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map((r) => (r === null ? '' : line(r)))];
}

/** Characters as a terminal shows them (code points; the tables hold no wide characters). */
function length(s: string): number {
  return [...s].length;
}
