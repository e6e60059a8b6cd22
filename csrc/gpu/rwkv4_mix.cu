// RWKV-4 / RRWKV token-shift mixes on the device (rwkv4_mix.h): one thread per (row, channel),
// walking the row's tokens in order so that segment sums form exactly as on the CPU
// (arch/rwkv4/mix_ops_cpu.cpp, whose expressions these are).
#include <string>

#include "gpu/rwkv4_mix.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {
namespace {

constexpr int kThreads = 128;

RRWKV_DEVICE float mix(float x, float xp, float mu) { return x * mu + xp * (1.0f - mu); }

__global__ void time_mix_kernel(Rwkv4TimeMix a, int64_t channel_blocks) {
  const int64_t i = blockIdx.x / channel_blocks, c = blockIdx.x % channel_blocks * kThreads + threadIdx.x, C = a.C;
  if (c >= C) return;
  const int64_t t0 = a.rows.start[i], t1 = a.rows.start[i + 1], N = a.rows.start[a.rows.n_rows];
  if (t1 == t0) return;
  float* st = a.rows.states + a.rows.row[i] * a.rows.state_floats;
  const float mk = a.mu_k[c], mv = a.mu_v[c], mr = a.mu_r[c];
  float xp = st[a.att_x + c];
  for (int64_t t = t0; t < t1; ++t) {
    const float x = a.x[t * C + c];
    a.xk[t * C + c] = mix(x, xp, mk), a.xv[t * C + c] = mix(x, xp, mv), a.xr[t * C + c] = mix(x, xp, mr);
    xp = x;
  }
  st[a.att_x + c] = xp;
  if (a.mediums.s > 0) {
    const float fs = static_cast<float>(a.mediums.s);
    float seg = st[a.att_seg + c];
    for (int64_t t = 0, j = a.mediums.med_start[i], j1 = a.mediums.med_start[i + 1]; t < t1 - t0; ++t) {
      seg += a.x[(t0 + t) * C + c];
      if (j < j1 && a.mediums.fold_at[j] == t) {
        a.xk[(N + j) * C + c] = a.xv[(N + j) * C + c] = seg / fs;
        seg = 0.0f;
        ++j;
      }
    }
    st[a.att_seg + c] = seg;
  }
}

__global__ void channel_mix_kernel(Rwkv4ChannelMix a, int64_t channel_blocks) {
  using Mode = Rwkv4ChannelMix::Mode;
  const int64_t i = blockIdx.x / channel_blocks, c = blockIdx.x % channel_blocks * kThreads + threadIdx.x, C = a.C;
  if (c >= C) return;
  const int64_t t0 = a.rows.start[i], t1 = a.rows.start[i + 1];
  if (t1 == t0) return;
  float* st = a.rows.states + a.rows.row[i] * a.rows.state_floats;
  const float mk = a.mu_k[c], mr = a.mu_r[c];
  const bool medium = a.mode != Mode::Rwkv4;
  float yp = a.ffn_x >= 0 ? st[a.ffn_x + c] : 0.0f;
  float med = medium ? st[a.ffn_med + c] : 0.0f, seg = medium ? st[a.ffn_seg + c] : 0.0f;
  const float fs = static_cast<float>(a.mediums.s > 1 ? a.mediums.s : 1);
  int64_t j = medium ? a.mediums.med_start[i] : 0;
  const int64_t j1 = medium ? a.mediums.med_start[i + 1] : 0;
  for (int64_t t = 0; t < t1 - t0; ++t) {
    const int64_t x = (t0 + t) * C + c;
    const float y = a.y[x];
    if (a.mode == Mode::Rwkv4) {
      a.yk[x] = mix(y, yp, mk), a.yr[x] = mix(y, yp, mr);
    } else if (a.mode == Mode::Replace) {  // the latest visible medium takes the previous token's place
      a.yk[x] = mix(y, med, mk), a.yr[x] = mix(y, med, mr);
    } else {
      a.yk[x] = mix(y, yp, mk) + a.eta_k[c] * (med - y);
      a.yr[x] = mix(y, yp, mr) + a.eta_r[c] * (med - y);
    }
    yp = y;
    if (medium) {
      seg += y;
      if (j < j1 && a.mediums.fold_at[j] == t) {  // segment end: its medium is seen from t + 1
        med = seg / fs;
        seg = 0.0f;
        ++j;
      }
    }
  }
  if (a.ffn_x >= 0) st[a.ffn_x + c] = yp;
  if (medium) st[a.ffn_med + c] = med, st[a.ffn_seg + c] = seg;
}

dim3 grid(const char* op, const DeviceRows& rows, int64_t C, int64_t& channel_blocks) {
  channel_blocks = (C + kThreads - 1) / kThreads;
  if (rows.n_rows * channel_blocks > 0x7fffffff)
    throw InvalidArgument(std::string(op) + ": " + std::to_string(rows.n_rows) + " rows of " + std::to_string(C) +
                          " channels need more than 2^31 - 1 blocks; split the call");
  return dim3(static_cast<unsigned>(rows.n_rows * channel_blocks));
}

bool mediums_ok(const DeviceMediums& m) { return m.s >= 0 && (m.s == 0 || (m.med_start && m.fold_at)); }

}  // namespace

void rwkv4_time_mix(const Rwkv4TimeMix& a, void* stream) {
  const bool ok = a.C > 0 && a.rows.valid() && mediums_ok(a.mediums) && a.x && a.mu_k && a.mu_v && a.mu_r &&
                  a.att_x >= 0 && a.xk && a.xv && a.xr && (a.mediums.s == 0 || a.att_seg >= 0);
  if (!ok)
    throw InvalidArgument("gpu rwkv4_time_mix: incomplete operands (need C > 0, rows, x, the three mixes, the att_x "
                          "field, the outputs, and with mediums their rows and the att_seg field); got C=" +
                          std::to_string(a.C) + ", s=" + std::to_string(a.mediums.s));
  int64_t blocks = 0;
  const dim3 g = grid("gpu rwkv4_time_mix", a.rows, a.C, blocks);
  launch("gpu rwkv4_time_mix", time_mix_kernel, g, dim3(kThreads), 0, to_stream(stream), a, blocks);
}

void rwkv4_channel_mix(const Rwkv4ChannelMix& a, void* stream) {
  using Mode = Rwkv4ChannelMix::Mode;
  const bool shift = a.mode != Mode::Replace, medium = a.mode != Mode::Rwkv4;
  const bool ok = a.C > 0 && a.rows.valid() && mediums_ok(a.mediums) && a.y && a.mu_k && a.mu_r && a.yk && a.yr &&
                  (!shift || a.ffn_x >= 0) && (!medium || (a.mediums.s > 0 && a.ffn_med >= 0 && a.ffn_seg >= 0)) &&
                  (a.mode != Mode::Add || (a.eta_k && a.eta_r));
  if (!ok)
    throw InvalidArgument("gpu rwkv4_channel_mix: incomplete operands for the mode (Rwkv4 and Add need the ffn_x "
                          "field, Replace and Add mediums and the ffn_med and ffn_seg fields, Add eta_k and eta_r); "
                          "got mode " + std::to_string(static_cast<int>(a.mode)) + ", s=" + std::to_string(a.mediums.s));
  int64_t blocks = 0;
  const dim3 g = grid("gpu rwkv4_channel_mix", a.rows, a.C, blocks);
  launch("gpu rwkv4_channel_mix", channel_mix_kernel, g, dim3(kThreads), 0, to_stream(stream), a, blocks);
}

}  // namespace rrwkv::gpu
