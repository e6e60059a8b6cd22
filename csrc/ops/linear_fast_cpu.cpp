// Projections on the fast path (ctx.fast, an engine with exact=false): the activations of each
// distinct input are prepared once per call (rounded to bf16 or quantized to int8 per block:
// kernels/cpu/fast_kernels.h), in parallel over rows when there are many; then every projection's
// weight rows are split into tasks by the shape alone, each multiplying its rows with every
// activation row. The weights are in the kernel's layout: packed once per model (the matrix's
// PackCache, core/pack_cache.h, made on first use and shared by every engine on the model), or,
// for a matrix without one, converted by each task into its thread's tile. The same kernels
// serve one row and a thousand, and a row's result never depends on the others: batched steps,
// single steps and prefill in any chunking give the same numbers for a row.
#include <algorithm>

#include "core/errors.h"
#include "core/pack_cache.h"
#include "kernels/cpu/fast_kernels.h"
#include "ops/epilogue.h"
#include "ops/linear.h"
#include "ops/parallel.h"

namespace rrwkv::ops::detail {
namespace {

constexpr int kMaxProjections = 16;
constexpr int64_t kTileBytes = 196608;  // a task's packed weights: about a tenth of the L2

struct Input {  // one distinct prepared input of the call
  const float* x;
  int64_t ldx, n, cols;
  DType dtype;  // the weights it is prepared for (their family and, for int8, the type: aux differs)
  const cpu::FastKernels* k;
  int64_t stride;  // prepared bytes per row
  uint8_t* out;
};

bool same_preparation(const Input& a, const Projection& p, const cpu::FastKernels* k) {
  const bool int8 = k->family == cpu::FastFamily::Int8;
  return a.x == p.x && a.ldx == p.ldx && a.n == p.n && a.cols == p.w->cols && a.k == k &&
         (!int8 || a.dtype == p.w->dtype);
}

// The whole of w in k's layout, packed once per model: the tasks of `rows` rows pack their
// slices in parallel (the same slices the products use). nullptr where w has no PackCache or k
// reads the weights as stored.
const uint8_t* packed_weights(ExecContext& ctx, const Matrix& w, const cpu::FastKernels* k, int64_t rows) {
  const int64_t bytes = k->pack_bytes(w.dtype, w.cols, w.rows);
  if (!w.packs || bytes == 0) return nullptr;
  return w.packs->get(w, k, bytes, [&](uint8_t* out) {
    ctx.cpu().pool().run((w.rows + rows - 1) / rows, [&](int64_t task, int) {
      const int64_t r0 = task * rows, r1 = std::min(w.rows, r0 + rows);
      k->pack(w, r0, r1, out + k->pack_bytes(w.dtype, w.cols, r0));
    });
  });
}

}  // namespace

void linear_fast_cpu(ExecContext& ctx, const Projection* ps, int count) {
  if (count > kMaxProjections) throw InvalidArgument("linear: at most 16 projections per call");
  FastScratch* scratch = ctx.cpu().fast_scratch();
  if (!scratch) throw InvalidArgument("linear: the fast path needs a CPU backend made with its fast scratch");
  Input inputs[kMaxProjections];
  int input_of[kMaxProjections];
  int n_inputs = 0;
  int64_t act_bytes = 0, tile_bytes = 0, rows_per_task[kMaxProjections], first[kMaxProjections + 1];
  const uint8_t* packed[kMaxProjections];
  first[0] = 0;
  for (int i = 0; i < count; ++i) {
    const Projection& p = ps[i];
    const cpu::FastKernels* k = cpu::fast_kernels_for(p.w->dtype);
    if (!k) throw InvalidArgument(std::string("linear: no fast kernel for weights of dtype ") + dtype_name(p.w->dtype));
    int j = 0;
    while (j < n_inputs && !same_preparation(inputs[j], p, k)) ++j;
    if (j == n_inputs) {
      const int64_t stride = k->act_row_bytes(p.w->dtype, p.w->cols);
      inputs[n_inputs++] = {p.x, p.ldx, p.n, p.w->cols, p.w->dtype, k, stride, nullptr};
      act_bytes += p.n * stride;
    }
    input_of[i] = j;
    // tasks: whole groups of rows whose tile is about kTileBytes
    const int64_t group = k->row_group, per_group = std::max<int64_t>(1, k->tile_bytes(p.w->dtype, p.w->cols, group));
    const int64_t rows = std::max<int64_t>(1, kTileBytes / per_group) * group;
    rows_per_task[i] = std::min(rows, std::max<int64_t>(group, p.w->rows));
    packed[i] = p.n == 0 ? nullptr : packed_weights(ctx, *p.w, k, rows_per_task[i]);
    tile_bytes = std::max(tile_bytes, packed[i] ? k->scratch_bytes(p.w->dtype, p.w->cols, rows_per_task[i])
                                                : k->tile_bytes(p.w->dtype, p.w->cols, rows_per_task[i]));
    first[i + 1] = first[i] + (p.n == 0 ? 0 : (p.w->rows + rows_per_task[i] - 1) / rows_per_task[i]);
  }
  uint8_t* acts = scratch->activations(act_bytes);
  scratch->reserve_tiles(tile_bytes);
  int64_t prepared_rows[kMaxProjections + 1] = {0};
  for (int j = 0; j < n_inputs; ++j) {
    inputs[j].out = acts;
    acts += inputs[j].n * inputs[j].stride;
    prepared_rows[j + 1] = prepared_rows[j] + inputs[j].n;
  }
  auto prepare_row = [&](int64_t task) {
    int j = 0;
    while (task >= prepared_rows[j + 1]) ++j;
    const Input& in = inputs[j];
    const int64_t row = task - prepared_rows[j];
    in.k->prepare(in.dtype, in.x + row * in.ldx, in.cols, in.out + row * in.stride);
  };
  int64_t widest = 0;
  for (int j = 0; j < n_inputs; ++j) widest = std::max(widest, inputs[j].cols);
  for_rows(ctx, prepared_rows[n_inputs], widest, prepare_row);
  ctx.cpu().pool().run(first[count], [&](int64_t task, int thread) {
    int i = 0;
    while (task >= first[i + 1]) ++i;
    const Projection& p = ps[i];
    const Input& in = inputs[input_of[i]];
    const int64_t r0 = (task - first[i]) * rows_per_task[i], r1 = std::min(p.w->rows, r0 + rows_per_task[i]);
    if (packed[i])
      in.k->gemm_packed(*p.w, packed[i] + in.k->pack_bytes(p.w->dtype, p.w->cols, r0), r0, r1, in.out, in.stride, p.n,
                        p.y, p.ldy, scratch->tile(thread));
    else
      in.k->gemm(*p.w, r0, r1, in.out, in.stride, p.n, p.y, p.ldy, scratch->tile(thread));
    apply_epilogue(p.epilogue, p.y, p.ldy, p.n, r0, r1);
  });
}

}  // namespace rrwkv::ops::detail
