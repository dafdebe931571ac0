#include "map.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "info.h"

namespace xdpnet {

namespace {

struct MapInit : FdInit {
  using FdInit::FdInit;
  bpf_map_info info{};
};

bool IsPerCpu(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
      return true;
    default:
      return false;
  }
}

// "<count> x <what>", for the expected size of a packed batch buffer.
std::string Times(uint32_t count, const char* what) {
  return std::to_string(count) + " x " + what;
}

// A failed update/delete batch may still have done part of the work; the
// kernel reports how much in `count` ("<error> (N of M entries processed)").
// When it stopped before touching the count (e.g. ENOTSUPP) count is
// unchanged, so only a smaller count is worth reporting.
std::string BatchDetail(int err, uint32_t done, uint32_t asked) {
  std::string text = ErrnoMessage(err);
  if (done < asked) {
    text += " (" + std::to_string(done) + " of " + std::to_string(asked) +
            " entries processed)";
  }
  return text;
}

}  // namespace

Napi::Function Map::Define(Napi::Env env) {
  Props props{
      InstanceMethod<&Map::Info>("info"),
      InstanceMethod<&Map::Lookup>("lookup"),
      InstanceMethod<&Map::Update>("update"),
      InstanceMethod<&Map::Delete>("delete"),
      InstanceMethod<&Map::NextKey>("nextKey"),
      InstanceMethod<&Map::LookupBatch>("lookupBatch"),
      InstanceMethod<&Map::UpdateBatch>("updateBatch"),
      InstanceMethod<&Map::DeleteBatch>("deleteBatch"),
  };
  AddCommon(&props);
  return DefineClass(env, "NativeMap", props);
}

Napi::Value Map::Create(Napi::Env env, int owned_fd) {
  MapInit init(owned_fd);
  init.info = GetMapInfo(env, owned_fd);
  return Data(env).mapCtor.New({Napi::External<FdInit>::New(env, &init)});
}

Map::Map(const Napi::CallbackInfo& info) : FdHandle<Map>(info) {
  const bpf_map_info& m =
      static_cast<MapInit*>(info[0].As<Napi::External<FdInit>>().Data())->info;
  type_ = m.type;
  key_size_ = m.key_size;
  value_size_ = m.value_size;
  value_bytes_ = value_size_;
  if (IsPerCpu(type_)) {
    per_cpu_ = true;
    size_t slot = (value_size_ + 7) / 8 * 8;
    value_bytes_ = slot * PossibleCpus(info.Env(), "map");
  }
}

std::string Map::ValueSizeName() const {
  if (!per_cpu_) return "map value_size";
  size_t slot = (value_size_ + 7) / 8 * 8;
  return "per-CPU value size (" + std::to_string(value_bytes_ / slot) +
         " possible CPUs x " + std::to_string(slot) + ")";
}

void Map::CheckKey(Napi::Env env, const char* op, size_t len) const {
  CheckLength(env, op, "key", len, "map key_size", key_size_);
}

void Map::CheckValue(Napi::Env env, const char* op, size_t len) const {
  CheckLength(env, op, "value", len, ValueSizeName(), value_bytes_);
}

Napi::Value Map::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return MapInfoToJs(env, GetMapInfo(env, Fd(env, "map.info")));
}

Napi::Value Map::Lookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "map.lookup";
  auto key = BufferArg(info, 0, op, "key");
  int fd = Fd(env, op);
  CheckKey(env, op, key.Length());
  auto value = Napi::Buffer<uint8_t>::New(env, value_bytes_);
  int err = bpf_map_lookup_elem(fd, key.Data(), value.Data());
  if (err == -ENOENT) return env.Undefined();
  if (err < 0) ThrowBpf(env, -err, "bpf_map_lookup_elem");
  return value;
}

void Map::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "map.update";
  auto key = BufferArg(info, 0, op, "key");
  auto value = BufferArg(info, 1, op, "value");
  uint64_t flags = U64Arg(info, 2, op, "flags");
  int fd = Fd(env, op);
  CheckKey(env, op, key.Length());
  CheckValue(env, op, value.Length());
  int err = bpf_map_update_elem(fd, key.Data(), value.Data(), flags);
  if (err < 0) ThrowBpf(env, -err, "bpf_map_update_elem");
}

Napi::Value Map::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "map.delete";
  auto key = BufferArg(info, 0, op, "key");
  int fd = Fd(env, op);
  CheckKey(env, op, key.Length());
  int err = bpf_map_delete_elem(fd, key.Data());
  if (err == -ENOENT) return Napi::Boolean::New(env, false);
  if (err < 0) ThrowBpf(env, -err, "bpf_map_delete_elem");
  return Napi::Boolean::New(env, true);
}

Napi::Value Map::NextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "map.nextKey";
  auto key = NullableBufferArg(info, 0, op, "key");
  int fd = Fd(env, op);
  if (key) CheckKey(env, op, key->Length());
  auto next = Napi::Buffer<uint8_t>::New(env, key_size_);
  int err = bpf_map_get_next_key(fd, key ? key->Data() : nullptr, next.Data());
  if (err == -ENOENT) return env.Undefined();
  if (err < 0) ThrowBpf(env, -err, "bpf_map_get_next_key");
  return next;
}

Napi::Value Map::LookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "map.lookupBatch";
  auto cursor = NullableBufferArg(info, 0, op, "cursor");
  uint32_t max_count = U32Arg(info, 1, op, "maxCount");
  int fd = Fd(env, op);
  if (max_count == 0) ThrowBpf(env, EINVAL, op, "maxCount must be > 0");
  // The batch token is a u32 bucket index for hash maps and a key for the
  // others; the kernel copies that many bytes, so size it for either.
  size_t cursor_size = std::max(key_size_, sizeof(uint32_t));
  std::vector<uint8_t> in_batch(cursor_size);
  if (cursor) {
    CheckLength(env, op, "cursor", cursor->Length(), "a batch cursor",
                cursor_size);
    std::memcpy(in_batch.data(), cursor->Data(), cursor_size);
  }
  auto out_batch = Napi::Buffer<uint8_t>::New(env, cursor_size);
  std::memset(out_batch.Data(), 0, cursor_size);
  std::vector<uint8_t> keys(max_count * key_size_);
  std::vector<uint8_t> values(max_count * value_bytes_);
  uint32_t count = max_count;
  auto opts = ZeroedOpts<bpf_map_batch_opts>();
  int err = bpf_map_lookup_batch(fd, cursor ? in_batch.data() : nullptr,
                                 out_batch.Data(), keys.data(), values.data(),
                                 &count, &opts);
  // ENOENT: the traversal reached the end; `count` entries were still copied.
  bool done = err == -ENOENT;
  if (err < 0 && !done) {
    ThrowBpf(env, -err, "bpf_map_lookup_batch");
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), count * key_size_));
  result.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), count * value_bytes_));
  result.Set("count", count);
  result.Set("cursor", out_batch);
  result.Set("done", done);
  return result;
}

Napi::Value Map::UpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "map.updateBatch";
  auto keys = BufferArg(info, 0, op, "keys");
  auto values = BufferArg(info, 1, op, "values");
  uint32_t count = U32Arg(info, 2, op, "count");
  uint64_t flags = U64Arg(info, 3, op, "flags");
  int fd = Fd(env, op);
  CheckLength(env, op, "keys", keys.Length(),
              Times(count, "key_size"), count * key_size_);
  CheckLength(env, op, "values", values.Length(),
              Times(count, "value size"), count * value_bytes_);
  auto opts = ZeroedOpts<bpf_map_batch_opts>();
  opts.elem_flags = flags;
  uint32_t asked = count;
  int err = bpf_map_update_batch(fd, keys.Data(), values.Data(), &count, &opts);
  if (err < 0) {
    ThrowBpf(env, -err, "bpf_map_update_batch", BatchDetail(-err, count, asked));
  }
  return Napi::Number::New(env, count);
}

Napi::Value Map::DeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "map.deleteBatch";
  auto keys = BufferArg(info, 0, op, "keys");
  uint32_t count = U32Arg(info, 1, op, "count");
  int fd = Fd(env, op);
  CheckLength(env, op, "keys", keys.Length(),
              Times(count, "key_size"), count * key_size_);
  auto opts = ZeroedOpts<bpf_map_batch_opts>();
  uint32_t asked = count;
  int err = bpf_map_delete_batch(fd, keys.Data(), &count, &opts);
  if (err < 0) {
    ThrowBpf(env, -err, "bpf_map_delete_batch", BatchDetail(-err, count, asked));
  }
  return Napi::Number::New(env, count);
}

}  // namespace xdpnet
