// An architecture's layout (the tensors a file of it must hold, in the file's order) as it is
// written down: the outer tensors, then per block its vectors (C floats) and matrices.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "arch/architecture.h"

namespace rrwkv {

class Layout {
 public:
  explicit Layout(const ModelConfig& c) : c_(c) {}

  Layout& embedding();  // emb (V, C), ln0
  Layout& head();       // ln_out, head (V, C)

  // The tensors of block i, named inside it ("ln1.weight" is "blocks.<i>.ln1.weight").
  class Block {
   public:
    Block& norms();                                            // ln1, ln2: weight and bias
    Block& vectors(std::initializer_list<const char*> names);  // C floats each
    Block& vector(const std::string& name, uint64_t size = 0);  // size 0: C floats
    Block& matrix(const std::string& name, uint64_t rows, uint64_t cols);
    Block& table(const std::string& name, uint64_t rows, uint64_t cols);  // a matrix read one row per token
    Block& square(std::initializer_list<const char*> names);  // (C, C) each
    Block& ffn();                                              // ffn.key (F, C), ffn.value (C, F)

   private:
    friend class Layout;
    Block(Layout& l, uint64_t i) : l_(l), prefix_("blocks." + std::to_string(i) + ".") {}
    Layout& l_;
    std::string prefix_;
  };
  Block block(uint64_t i) { return Block(*this, i); }

  std::vector<TensorSpec> specs() && { return std::move(out_); }

 private:
  const ModelConfig& c_;
  std::vector<TensorSpec> out_;
};

}  // namespace rrwkv
