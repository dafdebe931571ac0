// Checking struct codecs against the BTF of compiled BPF objects.
//
// The C headers are the source of truth for every struct shared with user
// space; this is how a codec proves it still mirrors them: same size, same
// fields in the same order at the same offsets, same sizes, and C types whose
// byte order matches the codec's (a `__be32` field needs a network-order codec).

import type { StructLayout } from './codec.js';
import { type NativeBtfDescription, type NativeBtfStruct, native } from './native.js';

/** Structs, enums and .rodata variables described by an object's BTF. */
export function describeBtf(objectPath: string): NativeBtfDescription {
  return native().describeBtf(objectPath);
}

/** Every way `layout` differs from the C struct; empty when they agree. */
export function layoutMismatches(layout: StructLayout, btf: NativeBtfStruct): string[] {
  const problems: string[] = [];
  const where = `struct ${layout.cName}`;
  if (layout.size !== btf.size) problems.push(`${where}: size ${layout.size} in TypeScript, ${btf.size} in C`);

  const cNames = btf.members.map((m) => m.name);
  const tsNames = layout.fields.map((f) => f.name);
  if (cNames.join() !== tsNames.join()) {
    problems.push(`${where}: fields [${tsNames.join(', ')}] in TypeScript, [${cNames.join(', ')}] in C`);
  }

  for (const member of btf.members) {
    const field = layout.fields.find((f) => f.name === member.name);
    if (!field) continue;
    const at = `${where}.${member.name}`;
    if (member.bitfieldSize !== 0) problems.push(`${at}: is a bitfield in C, which codecs do not model`);
    if (field.offset * 8 !== member.bitOffset) {
      problems.push(`${at}: offset ${field.offset} in TypeScript, ${member.bitOffset / 8} in C`);
    }
    if (field.codec.size !== member.size) {
      problems.push(`${at}: size ${field.codec.size} in TypeScript, ${member.size} in C`);
    }
    if (!field.codec.cTypes.includes(member.typeName)) {
      problems.push(`${at}: C type ${member.typeName} does not match the codec (expects ${field.codec.cTypes.join(' or ')})`);
    }
  }
  return problems;
}
