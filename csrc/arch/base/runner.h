// What every architecture's runner does around its blocks: per call, check that the call fits
// the scratch, embed the tokens, run each block (ln1 -> time mix, ln2 -> channel mix, each adding
// to the residual stream) and compute the logits the batch asks for. An architecture's runner
// derives from LayerRunner, carves its own buffers once and writes only its two mixes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

#include "arch/architecture.h"
#include "arch/base/weights.h"
#include "core/aligned.h"

namespace rrwkv {

// The state offsets of some named fields in every layer, looked up once: at(l, i) is the offset
// of names[i] in layer l of a row state, -1 where the schema has no such field.
class FieldOffsets {
 public:
  FieldOffsets(const StateSchema& schema, std::initializer_list<const char*> names);
  int64_t at(int64_t layer, int i) const {
    const int64_t f = first_[static_cast<size_t>(i)];
    return f < 0 ? -1 : f + layer * stride_;
  }

 private:
  std::vector<int64_t> first_;  // in layer 0
  int64_t stride_;
};

class LayerRunner : public Runner {
 public:
  void prepare(ExecContext& ctx, const RaggedBatch& b) final;
  void execute(ExecContext& ctx, const RaggedBatch& b) final;

 protected:
  LayerRunner(const ModelWeights& w, int64_t max_tokens, int64_t max_rows)
      : max_tokens_(max_tokens), max_rows_(max_rows), base_(w) {
    last_.reserve(static_cast<size_t>(max_rows));
  }
  // Allocates the scratch once: x_, xa_ (max_tokens x C each) and kk_ (max_tokens x F), then
  // each (buffer, floats).
  void carve(std::initializer_list<std::pair<float**, int64_t>> buffers);

  // Once per call, in prepare(): what the runner plans on the host, staged (RRWKV's mediums).
  virtual void plan(ExecContext&, const RaggedBatch&) {}
  // Block l's halves: xa_ holds ln1(x_) (time mix) or ln2(x_) (channel mix); each adds its
  // output to x_ and may overwrite xa_.
  virtual void time_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) = 0;
  virtual void channel_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) = 0;

  // The channel mix's output, every architecture's: x_ += σ(receptance · zr) ⊙ (value · kk_) with
  // kk_ = relu²(key · zk); without a receptance (RWKV-7) x_ += value · kk_. r, v: scratch of N x C.
  void channel_output(ExecContext& ctx, int64_t N, const Matrix& key, const Matrix* receptance, const Matrix& value,
                      const float* zk, const float* zr, float* r, float* v);

  const int64_t max_tokens_, max_rows_;
  float* x_ = nullptr;   // the residual stream: one row of C per token
  float* xa_ = nullptr;  // a block half's normed input
  float* kk_ = nullptr;  // the channel mix's hidden rows (F per token)

 private:
  const ModelWeights& base_;
  AlignedFloats buf_;                 // the scratch on the CPU
  std::shared_ptr<float> device_buf_;  // on a GPU
  std::vector<int64_t> last_;  // the logits' token rows
  const int64_t* staged_last_ = nullptr;  // last_, staged by prepare()
};

}  // namespace rrwkv
