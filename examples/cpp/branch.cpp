// Branching generation with the C++ wrapper (rrwkv_rt/rrwkv.hpp): ingest a prompt once, then
// continue it greedily in a clone and again from a saved state, and check both agree.
//
//   branch MODEL N TEXT...
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <rrwkv_rt/rrwkv.hpp>

namespace {

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

std::vector<int32_t> greedy(rrwkv_rt::Session& s, std::vector<float> logits, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(argmax(logits));
    if (i + 1 < n) logits = s.step(out.back());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: branch MODEL N TEXT...\n");
    return 2;
  }
  try {
    rrwkv_rt::Model model(argv[1]);
    const int n = std::atoi(argv[2]);
    std::string text = argv[3];
    for (int i = 4; i < argc; ++i) text += std::string(" ") + argv[i];

    rrwkv_rt::Session session(model);
    const std::vector<float> logits = session.eval(model.tokenize(text));
    const std::vector<uint8_t> saved = session.get_state();

    rrwkv_rt::Session branch = session.clone();  // shares the model, copies the state
    const std::vector<int32_t> a = greedy(branch, logits, n);
    const std::vector<int32_t> b = greedy(session, logits, n);  // the original advances too
    session.set_state(saved);                                   // rewind it to the prompt
    const std::vector<int32_t> c = greedy(session, logits, n);

    std::printf("clone:    %s\n", model.detokenize(a).c_str());
    std::printf("restored: %s\n", model.detokenize(c).c_str());
    if (a != b || a != c) {
      std::fprintf(stderr, "branch: the continuations differ\n");
      return 1;
    }
  } catch (const rrwkv_rt::Error& e) {
    std::fprintf(stderr, "branch: %s: %s\n", rrwkv_status_name(e.status()), e.what());
    return 1;
  }
  return 0;
}
