#include "core/pack_cache.h"

namespace rrwkv {

const uint8_t* PackCache::get(const Matrix& m, const void* kind, int64_t bytes,
                              const std::function<void(uint8_t*)>& fill) {
  Entry* e;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    std::unique_ptr<Entry>& slot = entries_[Key{m.data, kind, m.rows, m.cols, m.ld, static_cast<int>(m.dtype)}];
    if (!slot) slot = std::make_unique<Entry>();
    e = slot.get();
  }
  if (const uint8_t* p = e->ready.load(std::memory_order_acquire)) return p;
  const std::lock_guard<std::mutex> lock(e->fill_mu);
  if (const uint8_t* p = e->ready.load(std::memory_order_acquire)) return p;  // packed while we waited
  std::unique_ptr<uint8_t[]> data(new uint8_t[static_cast<size_t>(bytes + 64)]);
  const auto a = reinterpret_cast<uintptr_t>(data.get());
  uint8_t* out = data.get() + (64 - a % 64) % 64;
  fill(out);
  e->data = std::move(data);
  bytes_.fetch_add(bytes + 64, std::memory_order_relaxed);
  e->ready.store(out, std::memory_order_release);
  return out;
}

int64_t PackCache::count() const {
  const std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& kv : entries_) n += kv.second->ready.load(std::memory_order_acquire) != nullptr;
  return n;
}

}  // namespace rrwkv
