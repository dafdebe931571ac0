// How the demo talks: section headers, the commands it runs (`$ …`, dimmed),
// results (✓ / ✗ / !), indented detail. Colour only on a terminal and
// never with NO_COLOR, so a log or a test reads plain text.

const color = process.stdout.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';

const sgr = (code: string) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
export const dim = sgr('2');
export const bold = sgr('1');
const green = sgr('32');
const red = sgr('31');
const yellow = sgr('33');
const cyan = sgr('36');

const write = (line: string) => process.stdout.write(`${line}\n`);

export function blank(): void {
  write('');
}

/** A section: "== 2. VM to VM on one network, across nodes". */
export function section(title: string): void {
  write('');
  write(bold(cyan(`== ${title}`)));
}

/** A line of explanation. */
export function say(text: string): void {
  write(`   ${text}`);
}

/** Width commands are wrapped at: the terminal's, within reason; 100 in a log. */
const WIDTH = Math.min(Math.max(process.stdout.columns ?? 100, 80), 140);

/**
 * A command as the user would type it, wrapped shell-style (` \`) between
 * arguments, an option never parted from its value, so it can be pasted.
 */
export function command(argv: readonly string[]): void {
  const words = argv.map(shellQuote);
  const units: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    if (w.startsWith('-') && next !== undefined && !next.startsWith('-')) {
      units.push(`${w} ${next}`);
      i++;
    } else units.push(w);
  }
  const lines: string[] = [];
  let line = '   $';
  for (const u of units) {
    if (line.length + 1 + u.length + 2 > WIDTH && line.trim() !== '$' && line.trim() !== '') {
      lines.push(`${line} \\`);
      line = '        ';
    }
    line += line.endsWith(' ') ? u : ` ${u}`;
  }
  lines.push(line);
  for (const l of lines) write(dim(l));
}

/** Output of a command or detail of a result, indented under it. */
export function detail(text: string): void {
  for (const line of text.replace(/\n+$/, '').split('\n')) write(dim(`     ${line}`));
}

export function ok(text: string): void {
  write(`   ${green('✓')} ${text}`);
}

export function failed(text: string): void {
  write(`   ${red('✗')} ${text}`);
}

export function warn(text: string): void {
  write(`   ${yellow('!')} ${text}`);
}

/** Quotes an argument only when a shell would need it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** "1.2 s" */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
