/* Tests of the C API's devices (rrwkv.h, "Devices"): rrwkv_session_new_on / rrwkv_batch_new_on
 * with "cpu", "cuda", "cuda:N", "auto" and bad names. Built against the installed package and run
 * by tests/capi/test_capi.py (also under valgrind and AddressSanitizer + UBSan).
 *
 *   test_capi_device MODEL
 *
 * MODEL has vocab_size 256. Without a usable CUDA device (a CPU-only build, no driver) "cuda" must
 * fail with RRWKV_ERR_INVALID_ARGUMENT and a message saying why, and "auto" must pick the CPU; with
 * one (a GPU, or the emulated device of a RRWKV_GPU_EMULATION build), sessions and batches on
 * "cuda" must give the CPU's logits within 1e-4, and a state must move between the devices.
 * Prints "cuda devices: N, auto: DEVICE" and each failed check; exits 1 if any failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rrwkv_rt/rrwkv.h>

#include "expect.h"

static float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0;
  size_t i;
  for (i = 0; i < n; ++i) m = fabsf(a[i] - b[i]) > m ? fabsf(a[i] - b[i]) : m;
  return m;
}

/* Names it does not know, and NULL (the CPU). */
static void test_names(const rrwkv_model* m) {
  rrwkv_session* s = (rrwkv_session*)&s;
  rrwkv_batch* b = (rrwkv_batch*)&b;
  EXPECT_STATUS(rrwkv_session_new_on(m, NULL, "tpu", &s), RRWKV_ERR_INVALID_ARGUMENT,
                "unknown device 'tpu'; expected 'cpu', 'cuda', 'cuda:N' or 'auto'");
  EXPECT(s == NULL);
  EXPECT_STATUS(rrwkv_batch_new_on(m, NULL, "cuda:x", &b), RRWKV_ERR_INVALID_ARGUMENT, "unknown device 'cuda:x'");
  EXPECT(b == NULL);
  EXPECT_STATUS(rrwkv_session_new_on(NULL, NULL, "cpu", &s), RRWKV_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_STATUS(rrwkv_session_new_on(m, NULL, NULL, &s), RRWKV_OK, "");
  EXPECT(s != NULL && strcmp(rrwkv_session_device(s), "cpu") == 0);
  EXPECT(strcmp(rrwkv_session_device(NULL), "") == 0 && strcmp(rrwkv_batch_device(NULL), "") == 0);
  rrwkv_session_free(s);
  EXPECT_STATUS(rrwkv_batch_new_on(m, NULL, "cpu", &b), RRWKV_OK, "");
  EXPECT(b != NULL && strcmp(rrwkv_batch_device(b), "cpu") == 0);
  rrwkv_batch_free(b);
}

/* "auto" picks cuda:0 where a device is usable, else the CPU; an inexact batch stays on the CPU.
 * Returns what the session got. */
static const char* test_auto(const rrwkv_model* m, int n_cuda) {
  static char got[16];
  rrwkv_session* s = NULL;
  rrwkv_batch* b = NULL;
  rrwkv_batch_params p = rrwkv_batch_default_params();
  EXPECT_STATUS(rrwkv_session_new_on(m, NULL, "auto", &s), RRWKV_OK, "");
  if (!s) return "(none)";
  snprintf(got, sizeof got, "%s", rrwkv_session_device(s));
  EXPECT(strcmp(got, n_cuda > 0 ? "cuda:0" : "cpu") == 0);
  EXPECT_STATUS(rrwkv_batch_new_on(m, NULL, "auto", &b), RRWKV_OK, "");  /* the notice is not repeated */
  EXPECT(b != NULL && strcmp(rrwkv_batch_device(b), got) == 0);
  rrwkv_batch_free(b);
  p.exact = false;
  EXPECT_STATUS(rrwkv_batch_new_on(m, &p, "auto", &b), RRWKV_OK, "");
  EXPECT(b != NULL && strcmp(rrwkv_batch_device(b), "cpu") == 0);
  rrwkv_batch_free(b);
  rrwkv_session_free(s);
  return got;
}

/* No usable device: "cuda" is a clear error, nothing is created. */
static void test_cuda_refused(const rrwkv_model* m) {
  rrwkv_session* s = (rrwkv_session*)&s;
  rrwkv_batch* b = (rrwkv_batch*)&b;
  EXPECT_STATUS(rrwkv_session_new_on(m, NULL, "cuda", &s), RRWKV_ERR_INVALID_ARGUMENT, "CUDA");
  EXPECT(s == NULL);
  EXPECT_STATUS(rrwkv_batch_new_on(m, NULL, "cuda:0", &b), RRWKV_ERR_INVALID_ARGUMENT, "CUDA");
  EXPECT(b == NULL);
}

/* A usable device: the CPU's logits within 1e-4; a clone stays on the device; states move. */
static void test_cuda_runs(const rrwkv_model* m) {
  enum { T = 7 };
  const int32_t toks[T] = {3, 14, 15, 92, 65, 35, 89};
  const size_t V = (size_t)rrwkv_model_vocab_size(m);
  float *cpu = malloc(V * sizeof(float)), *gpu = malloc(V * sizeof(float)), *rows = malloc(2 * V * sizeof(float));
  rrwkv_session *c = NULL, *g = NULL, *g2 = NULL;
  rrwkv_batch* b = NULL;
  rrwkv_batch_params exact_false = rrwkv_batch_default_params();
  int32_t r[2] = {-1, -1}, two[2] = {5, 6};
  uint8_t* blob = NULL;
  size_t size = 0;
  EXPECT_STATUS(rrwkv_session_new_on(m, NULL, "cpu", &c), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_new_on(m, NULL, "cuda", &g), RRWKV_OK, "");
  if (!c || !g || !cpu || !gpu || !rows) goto done;
  EXPECT(strcmp(rrwkv_session_device(g), "cuda:0") == 0);
  EXPECT_STATUS(rrwkv_session_eval(c, toks, T, cpu, V), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_eval(g, toks, T, gpu, V), RRWKV_OK, "");
  EXPECT(max_abs_diff(cpu, gpu, V) < 1e-4f);
  EXPECT_STATUS(rrwkv_session_step(g, 300, gpu, V), RRWKV_ERR_OUT_OF_RANGE, "token 300");  /* the CPU's error */
  EXPECT_STATUS(rrwkv_session_clone(g, &g2), RRWKV_OK, "");
  EXPECT(g2 != NULL && strcmp(rrwkv_session_device(g2), "cuda:0") == 0);
  EXPECT_STATUS(rrwkv_session_step(c, 9, cpu, V), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_step(g2, 9, gpu, V), RRWKV_OK, "");
  EXPECT(max_abs_diff(cpu, gpu, V) < 1e-4f);
  /* the CPU session's state on the GPU batch, beside a fresh row */
  size = rrwkv_session_state_size(c);
  blob = malloc(size);
  EXPECT_STATUS(rrwkv_session_get_state(c, blob, size, NULL), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_batch_new_on(m, NULL, "cuda", &b), RRWKV_OK, "");
  if (!b || !blob) goto done;
  EXPECT(strcmp(rrwkv_batch_device(b), "cuda:0") == 0);
  EXPECT_STATUS(rrwkv_batch_add(b, &r[0]), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_batch_add(b, &r[1]), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_batch_set_state(b, r[0], blob, size), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_batch_step(b, r, two, 2, rows, 2 * V), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_step(c, 5, cpu, V), RRWKV_OK, "");
  EXPECT(max_abs_diff(cpu, rows, V) < 1e-4f);
  rrwkv_batch_free(b);
  b = NULL;
  exact_false.exact = false;  /* the fast path is the CPU's */
  EXPECT_STATUS(rrwkv_batch_new_on(m, &exact_false, "cuda", &b), RRWKV_ERR_INVALID_ARGUMENT, "exact=False");
done:
  rrwkv_batch_free(b);
  rrwkv_session_free(g2);
  rrwkv_session_free(g);
  rrwkv_session_free(c);
  free(blob);
  free(rows);
  free(gpu);
  free(cpu);
}

int main(int argc, char** argv) {
  rrwkv_model* m = NULL;
  int n_cuda;
  const char* picked = "(none)";
  if (argc != 2) {
    fprintf(stderr, "usage: test_capi_device MODEL\n");
    return 2;
  }
  n_cuda = rrwkv_cuda_device_count();
  EXPECT(n_cuda >= 0);
  EXPECT_STATUS(rrwkv_model_load(argv[1], NULL, &m), RRWKV_OK, "");
  if (m) {
    test_names(m);
    picked = test_auto(m, n_cuda);
    if (n_cuda > 0)
      test_cuda_runs(m);
    else
      test_cuda_refused(m);
  }
  rrwkv_model_free(m);
  printf("cuda devices: %d, auto: %s\n%d checks, %d failed\n", n_cuda, picked, g_checks, g_failures);
  return g_failures ? 1 : 0;
}
