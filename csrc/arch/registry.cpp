// The architectures this build runs: one line each.
#include "arch/architecture.h"

#include "arch/rwkv4/rwkv4.h"
#include "arch/rwkv5/rwkv5.h"
#include "arch/rwkv6/rwkv6.h"
#include "arch/rwkv7/rwkv7.h"

namespace rrwkv {

const std::vector<const Architecture*>& architectures() {
  static const std::vector<const Architecture*> all = {
      &rwkv4_architecture(),  // RWKV-4
      &rrwkv_architecture(),  // RRWKV (RWKV-4 with mediums)
      &rwkv5_architecture(),  // RWKV-5.2
      &rwkv6_architecture(),  // RWKV-6
      &rwkv7_architecture(),  // RWKV-7
  };
  return all;
}

const Architecture* find_architecture(const std::string& name) {
  for (const Architecture* a : architectures())
    if (name == a->name()) return a;
  return nullptr;
}

std::string architecture_names() {
  std::string s;
  for (const Architecture* a : architectures()) s += (s.empty() ? "'" : ", '") + std::string(a->name()) + "'";
  return s;
}

}  // namespace rrwkv
