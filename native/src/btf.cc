#include "btf.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <bpf/btf.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "errors.h"

namespace xdpnet {

namespace {

std::string NameOf(const btf* b, const btf_type* t) {
  const char* name = btf__name_by_offset(b, t->name_off);
  return name != nullptr ? name : "";
}

std::string Tagged(const char* tag, const std::string& name) {
  return std::string(tag) + " " + (name.empty() ? "<anon>" : name);
}

// C-like spelling of a type as the source wrote it: typedef names are kept
// ("__be32", not "unsigned int"), arrays are "elem[n][m]".
std::string TypeName(const btf* b, __u32 id, int depth = 0) {
  if (id == 0) return "void";
  const btf_type* t = btf__type_by_id(b, id);
  if (t == nullptr || depth > 32) return "?";
  std::string name = NameOf(b, t);
  switch (btf_kind(t)) {
    case BTF_KIND_STRUCT:
      return Tagged("struct", name);
    case BTF_KIND_UNION:
      return Tagged("union", name);
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
      return Tagged("enum", name);
    case BTF_KIND_FWD:
      return Tagged(btf_kflag(t) ? "union" : "struct", name);
    case BTF_KIND_PTR:
      return TypeName(b, t->type, depth + 1) + "*";
    case BTF_KIND_CONST:
      return "const " + TypeName(b, t->type, depth + 1);
    case BTF_KIND_VOLATILE:
      return "volatile " + TypeName(b, t->type, depth + 1);
    case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPE_TAG:
      return TypeName(b, t->type, depth + 1);
    case BTF_KIND_FUNC_PROTO:
      return "func";
    case BTF_KIND_ARRAY: {
      // Nested arrays are one C array: int[2][3] is ARRAY(2) of ARRAY(3).
      std::string dims;
      const btf_type* cur = t;
      __u32 elem = 0;
      while (cur != nullptr && btf_is_array(cur)) {
        dims += "[" + std::to_string(btf_array(cur)->nelems) + "]";
        elem = btf_array(cur)->type;
        cur = btf__type_by_id(b, elem);
      }
      return TypeName(b, elem, depth + 1) + dims;
    }
    default:  // INT, FLOAT, TYPEDEF
      return name.empty() ? "?" : name;
  }
}

Napi::Object DescribeStruct(Napi::Env env, const btf* b, const btf_type* t) {
  Napi::Array members = Napi::Array::New(env);
  const btf_member* m = btf_members(t);
  for (__u32 i = 0; i < btf_vlen(t); i++) {
    Napi::Object d = Napi::Object::New(env);
    const char* name = btf__name_by_offset(b, m[i].name_off);
    __s64 size = btf__resolve_size(b, m[i].type);
    d.Set("name", name != nullptr ? name : "");
    d.Set("bitOffset", btf_member_bit_offset(t, i));
    d.Set("bitfieldSize", btf_member_bitfield_size(t, i));
    d.Set("size", static_cast<double>(size > 0 ? size : 0));
    d.Set("typeName", TypeName(b, m[i].type));
    members.Set(i, d);
  }
  Napi::Object s = Napi::Object::New(env);
  s.Set("size", t->size);
  s.Set("members", members);
  return s;
}

Napi::Object DescribeEnum(Napi::Env env, const btf* b, const btf_type* t) {
  Napi::Object values = Napi::Object::New(env);
  bool is_signed = btf_kflag(t);  // libbpf >= 1.0: kflag marks signed enums
  for (__u32 i = 0; i < btf_vlen(t); i++) {
    if (btf_is_enum(t)) {
      const struct btf_enum& e = btf_enum(t)[i];  // "struct": btf_enum() hides the type name
      double v = is_signed ? static_cast<double>(e.val)
                           : static_cast<double>(static_cast<__u32>(e.val));
      values.Set(btf__name_by_offset(b, e.name_off), v);
    } else {
      const struct btf_enum64& e = btf_enum64(t)[i];
      __u64 raw = btf_enum64_value(&e);
      double v = is_signed ? static_cast<double>(static_cast<__s64>(raw))
                           : static_cast<double>(raw);
      values.Set(btf__name_by_offset(b, e.name_off), v);
    }
  }
  return values;
}

// Offsets of the STT_OBJECT symbols in the ELF's .rodata section. Needed
// because clang emits DATASEC variables with offset 0 and leaves the real
// offsets to the loader (libbpf fixes them the same way, at open time).
std::map<std::string, uint64_t> RodataSymbols(const std::string& path) {
  std::map<std::string, uint64_t> out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  size_t shstrndx = 0;
  if (elf != nullptr && elf_getshdrstrndx(elf, &shstrndx) == 0) {
    size_t rodata_index = 0;
    Elf_Scn* symtab = nullptr;
    GElf_Shdr symtab_hdr{};
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr;
         scn = elf_nextscn(elf, scn)) {
      GElf_Shdr hdr;
      if (gelf_getshdr(scn, &hdr) == nullptr) continue;
      const char* name = elf_strptr(elf, shstrndx, hdr.sh_name);
      if (name != nullptr && std::strcmp(name, ".rodata") == 0) {
        rodata_index = elf_ndxscn(scn);
      }
      if (hdr.sh_type == SHT_SYMTAB) {
        symtab = scn;
        symtab_hdr = hdr;
      }
    }
    Elf_Data* syms = symtab != nullptr ? elf_getdata(symtab, nullptr) : nullptr;
    if (syms != nullptr && rodata_index != 0 && symtab_hdr.sh_entsize != 0) {
      size_t n = symtab_hdr.sh_size / symtab_hdr.sh_entsize;
      for (size_t i = 0; i < n; i++) {
        GElf_Sym sym;
        if (gelf_getsym(syms, static_cast<int>(i), &sym) == nullptr) continue;
        if (sym.st_shndx != rodata_index || GELF_ST_TYPE(sym.st_info) != STT_OBJECT) {
          continue;
        }
        const char* name = elf_strptr(elf, symtab_hdr.sh_link, sym.st_name);
        if (name != nullptr) out[name] = sym.st_value;
      }
    }
  }
  if (elf != nullptr) elf_end(elf);
  ::close(fd);
  return out;
}

Napi::Object DescribeRodata(Napi::Env env, const btf* b, const std::string& path) {
  Napi::Object out = Napi::Object::New(env);
  int id = btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC);
  if (id < 0) return out;
  const btf_type* sec = btf__type_by_id(b, static_cast<__u32>(id));
  // A statically linked object (bpftool gen object) has the DATASEC size and
  // offsets filled in; a plain clang object has size 0 and needs the symbols.
  bool from_symbols = sec->size == 0;
  std::map<std::string, uint64_t> symbols;
  if (from_symbols) symbols = RodataSymbols(path);
  const btf_var_secinfo* vars = btf_var_secinfos(sec);
  for (__u32 i = 0; i < btf_vlen(sec); i++) {
    std::string name = NameOf(b, btf__type_by_id(b, vars[i].type));
    double offset = vars[i].offset;
    if (from_symbols) {
      auto it = symbols.find(name);
      if (it == symbols.end()) continue;  // no symbol: offset unknowable
      offset = static_cast<double>(it->second);
    }
    Napi::Object v = Napi::Object::New(env);
    v.Set("offset", offset);
    v.Set("size", vars[i].size);
    out.Set(name, v);
  }
  return out;
}

}  // namespace

Napi::Value DescribeBtf(Napi::Env env, const std::string& path) {
  LogCapture capture;
  btf* parsed = btf__parse_elf(path.c_str(), nullptr);
  if (parsed == nullptr) {
    int err = errno != 0 ? errno : EINVAL;
    ThrowBpf(env, err, "btf__parse_elf",
             "reading BTF of " + path + ": " + ErrnoMessage(err), capture.Take());
  }
  std::unique_ptr<btf, void (*)(btf*)> owner(parsed, btf__free);
  const btf* b = parsed;

  Napi::Object structs = Napi::Object::New(env);
  Napi::Object enums = Napi::Object::New(env);
  __u32 count = btf__type_cnt(b);  // ids run 1..count-1; 0 is void
  for (__u32 id = 1; id < count; id++) {
    const btf_type* t = btf__type_by_id(b, id);
    std::string name = NameOf(b, t);
    if (name.empty()) continue;
    // First definition wins if BTF (not deduplicated) repeats a name.
    if (btf_is_struct(t) && !structs.Has(name)) {
      structs.Set(name, DescribeStruct(env, b, t));
    } else if ((btf_is_enum(t) || btf_is_enum64(t)) && !enums.Has(name)) {
      enums.Set(name, DescribeEnum(env, b, t));
    }
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("structs", structs);
  result.Set("enums", enums);
  result.Set("rodata", DescribeRodata(env, b, path));
  return result;
}

}  // namespace xdpnet
