// rrwkv.hpp's devices: Session / Batch take a device name and report what it resolved to; a bad
// name throws rrwkv_rt::Error with the C API's status and message. Built against the installed
// package and run by tests/capi/test_capi.py.
//
//   test_hpp_device MODEL
//
// Prints "auto: DEVICE" and each failed check; exits 1 if any failed.
#include <rrwkv_rt/rrwkv.hpp>

#include <cmath>
#include <cstdio>
#include <string>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "FAILED: %s\n", what);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: test_hpp_device MODEL\n");
    return 2;
  }
  rrwkv_rt::Model model(argv[1]);
  const bool cuda = rrwkv_cuda_device_count() > 0;
  rrwkv_rt::Session cpu(model, 1, "cpu");
  rrwkv_rt::Session chosen(model, 1, "auto");
  expect(cpu.device() == "cpu", "Session(model, 1, \"cpu\").device() is \"cpu\"");
  {
    rrwkv_rt::Model copied(argv[1], rrwkv_model_default_params(), true);
    rrwkv_rt::Session from_copy(copied, 1, "cpu");
    expect(from_copy.eval({1, 2, 3}) == cpu.eval({1, 2, 3}), "a Model read into memory gives the mapped one's logits");
    cpu.reset();
  }
  expect(chosen.device() == (cuda ? "cuda:0" : "cpu"), "\"auto\" picks cuda:0 exactly when a device is usable");
  rrwkv_rt::Batch batch(model, 2, 1, "auto");
  expect(batch.device() == chosen.device(), "a Batch's \"auto\" resolves as a Session's");
  try {
    rrwkv_rt::Session bad(model, 1, "gpu");
    expect(false, "Session(model, 1, \"gpu\") throws");
  } catch (const rrwkv_rt::Error& e) {
    expect(e.status() == RRWKV_ERR_INVALID_ARGUMENT && std::string(e.what()).find("unknown device 'gpu'") != std::string::npos,
           "a bad name throws Error(RRWKV_ERR_INVALID_ARGUMENT) naming it");
  }
  if (cuda) {
    rrwkv_rt::Session gpu(model, 1, "cuda");
    const std::vector<float> a = cpu.eval({1, 2, 3, 4}), b = gpu.eval({1, 2, 3, 4});
    float worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::fmax(worst, std::fabs(a[i] - b[i]));
    expect(worst < 1e-4f, "a cuda session's logits are the CPU's within 1e-4");
  } else {
    try {
      rrwkv_rt::Batch bad(model, 2, 1, "cuda");
      expect(false, "Batch(..., \"cuda\") throws without a usable device");
    } catch (const rrwkv_rt::Error& e) {
      expect(e.status() == RRWKV_ERR_INVALID_ARGUMENT && std::string(e.what()).find("CUDA") != std::string::npos,
             "\"cuda\" without a device throws Error(RRWKV_ERR_INVALID_ARGUMENT) saying why");
    }
  }
  std::printf("auto: %s\n%d failed\n", chosen.device().c_str(), failures);
  return failures ? 1 : 0;
}
