#include "kernels/cpu/blas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

namespace rrwkv::cpu {
namespace {

// cblas enum values (fixed by the CBLAS standard).
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

using CblasSgemm = void (*)(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                            const float* b, int ldb, float beta, float* c, int ldc);
using SetThreads = void (*)(int);
using SetThreadsLocal = int (*)(int);
using GetConfig = const char* (*)();

struct Blas {
  std::mutex mu;
  std::string path;
  bool loaded = false;
  CblasSgemm sgemm = nullptr;
  SetThreadsLocal threads_local = nullptr;  // OpenBLAS >= 0.3.27: a per-thread thread count
  std::string status = "no BLAS configured; using the built-in kernels";
};

Blas& blas() {
  static Blas b;
  return b;
}

void* find(void* h, const char* prefixed, const char* plain) {
  void* f = dlsym(h, prefixed);
  return f ? f : dlsym(h, plain);
}

void load_locked(Blas& b) {
  b.loaded = true;
  if (b.path.empty()) return;
  void* h = dlopen(b.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* err = dlerror();
    b.status = "cannot load BLAS '" + b.path + "' (" + (err ? err : "?") + "); using the built-in kernels";
    return;
  }
  auto sgemm = reinterpret_cast<CblasSgemm>(find(h, "scipy_cblas_sgemm", "cblas_sgemm"));
  if (!sgemm) {
    b.status = "'" + b.path + "' exports no cblas_sgemm; using the built-in kernels";
    return;  // keep the handle: unloading a library that started threads is unsafe
  }
  // The session's own pool runs one BLAS call per thread: keep BLAS single-threaded so that its
  // threads never compete with ours. Per calling thread where the library allows it (no effect on
  // other users of the same library, e.g. scipy's copy); else for the whole library.
  b.threads_local = reinterpret_cast<SetThreadsLocal>(
      find(h, "scipy_openblas_set_num_threads_local", "openblas_set_num_threads_local"));
  if (!b.threads_local)
    if (auto set = reinterpret_cast<SetThreads>(find(h, "scipy_openblas_set_num_threads", "openblas_set_num_threads")))
      set(1);
  std::string name = "BLAS";
  if (auto cfg = reinterpret_cast<GetConfig>(find(h, "scipy_openblas_get_config", "openblas_get_config")))
    name = cfg();
  b.sgemm = sgemm;
  b.status = name + " (" + b.path + ")";
}

void sgemm_nt(int m, int n, int k, const float* a, int lda, const float* bm, int ldb, float* c, int ldc) {
  if (blas().threads_local) blas().threads_local(1);
  blas().sgemm(kRowMajor, kNoTrans, kTrans, m, n, k, 1.0f, a, lda, bm, ldb, 0.0f, c, ldc);
}

}  // namespace

void blas_configure(const std::string& path) {
  Blas& b = blas();
  std::lock_guard<std::mutex> lock(b.mu);
  if (b.loaded) return;  // too late: the first product already chose
  b.path = path;
  b.status = path.empty() ? "BLAS disabled; using the built-in kernels" : "BLAS '" + path + "' not loaded yet";
}

void blas_configure_from_env(const std::string& fallback) {
  if (const char* env = std::getenv("RRWKV_BLAS")) {
    const std::string v = env;
    blas_configure(v.empty() || v == "0" || v == "none" || v == "off" ? "" : v);
    return;
  }
  blas_configure(fallback);
}

bool blas_available() {
  Blas& b = blas();
  std::lock_guard<std::mutex> lock(b.mu);
  if (!b.loaded) load_locked(b);
  return b.sgemm != nullptr;
}

SgemmNT blas_sgemm_nt() { return blas_available() ? &sgemm_nt : nullptr; }

std::string blas_status() {
  Blas& b = blas();
  std::lock_guard<std::mutex> lock(b.mu);
  return b.status;
}

}  // namespace rrwkv::cpu
