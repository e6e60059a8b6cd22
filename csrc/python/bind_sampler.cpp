// Bindings of the sampler: conversions only. Python names follow the familiar generate() ones
// (presence_penalty = alpha_presence, frequency_penalty = alpha_frequency, penalty_decay =
// alpha_decay); the generation loop is python/rrwkv_rt/runtime/generate.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <climits>
#include <vector>

#include "core/errors.h"
#include "python/bindings.h"
#include "sampling/model_defaults.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace py = pybind11;

namespace rrwkv::python {
namespace {

using Logits = py::array_t<float, py::array::c_style | py::array::forcecast>;
constexpr size_t kReleaseGilVocab = 4096;

std::vector<int64_t> token_list(const py::object& obj, const char* name) {
  if (obj.is_none()) return {};
  if (py::isinstance<py::str>(obj) || py::isinstance<py::bytes>(obj))
    throw py::type_error(std::string(name) + " must be a sequence of token ids, not a string");
  std::vector<int64_t> out;
  for (const py::handle& h : py::iter(obj)) {
    py::object id = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));  // TypeError for non-integers
    if (!id) throw py::error_already_set();
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(id.ptr(), &overflow);
    out.push_back(overflow ? (overflow > 0 ? LLONG_MAX : LLONG_MIN) : static_cast<int64_t>(v));
  }
  return out;
}

std::optional<uint64_t> seed_arg(const py::object& seed) {
  if (seed.is_none()) return std::nullopt;
  py::object v = py::reinterpret_steal<py::object>(PyNumber_Index(seed.ptr()));
  if (!v) throw py::error_already_set();
  const unsigned long long u = PyLong_AsUnsignedLongLong(v.ptr());
  if (u == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw InvalidArgument("seed must be None or an integer in [0, 2**64), got " + std::string(py::str(v)));
  }
  return static_cast<uint64_t>(u);
}

// An allowed-token mask: a 1-D array of 32-bit words (int32 as llguidance makes them, or uint32),
// mask_words(vocab_size) of them; null for None.
const uint32_t* mask_ptr(const py::object& allowed, const Sampler& s, py::buffer_info& keep) {
  if (allowed.is_none()) return nullptr;
  if (!PyObject_CheckBuffer(allowed.ptr()))
    throw InvalidArgument("allowed must be None or a numpy array of int32 / uint32 mask words, got " +
                          std::string(py::str(py::type::of(allowed).attr("__name__"))));
  keep = py::reinterpret_borrow<py::buffer>(allowed).request();
  const std::string& f = keep.format;  // "i", or with a byte-order mark: "<i", "=i"
  const bool native = f.size() == 1 || (f.size() == 2 && (f[0] == '<' || f[0] == '=' || f[0] == '@'));
  const bool words = keep.itemsize == 4 && native && std::string("iIlL").find(f.back()) != std::string::npos;
  const size_t want = mask_words(s.vocab_size());
  if (!words || keep.ndim != 1 || static_cast<size_t>(keep.shape[0]) != want || keep.strides[0] != 4)
    throw InvalidArgument("allowed must be a contiguous 1-D array of " + std::to_string(want) +
                          " int32 or uint32 words (bit t % 32 of word t // 32 allows token t), got format '" +
                          keep.format + "' with " + std::to_string(keep.ndim) + " dimension(s) and " +
                          std::to_string(keep.size) + " entries");
  return static_cast<const uint32_t*>(keep.ptr);
}

std::vector<TokenBias> bias_list(const py::object& obj) {
  std::vector<TokenBias> out;
  if (obj.is_none()) return out;
  py::object items = py::hasattr(obj, "items") ? obj.attr("items")() : obj;
  for (const py::handle& h : py::iter(items)) {
    py::tuple pair = py::reinterpret_borrow<py::object>(h).cast<py::tuple>();
    if (pair.size() != 2) throw InvalidArgument("logit_bias must map token ids to numbers ({id: bias})");
    const std::vector<int64_t> id = token_list(py::make_tuple(pair[0]), "logit_bias");
    out.push_back({id[0], pair[1].cast<float>()});
  }
  return out;
}

const float* logits_ptr(const Logits& logits, const Sampler& s) {
  if (logits.ndim() != 1 || static_cast<size_t>(logits.shape(0)) != s.vocab_size())
    throw InvalidArgument("logits must have shape (" + std::to_string(s.vocab_size()) + ",), got an array with " +
                          std::to_string(logits.ndim()) + " dimension(s) and " + std::to_string(logits.size()) +
                          " entries");
  return logits.data();
}

// The numeric parameters under their Python names.
py::dict numeric_params(const SamplerParams& p) {
  py::dict d;
  d["temperature"] = p.temperature;
  d["top_p"] = p.top_p;
  d["top_k"] = p.top_k;
  d["min_p"] = p.min_p;
  d["presence_penalty"] = p.alpha_presence;
  d["frequency_penalty"] = p.alpha_frequency;
  d["penalty_decay"] = p.alpha_decay;
  d["repetition_penalty"] = p.repetition_penalty;
  return d;
}

py::dict params_dict(const Sampler& s) {
  const SamplerParams& p = s.params();
  py::dict d = numeric_params(p);
  d["banned_tokens"] = p.banned_tokens;
  d["stop_tokens"] = p.stop_tokens;
  py::dict bias;
  for (const TokenBias& b : p.logit_bias) {
    py::int_ t(b.token);
    bias[t] = (bias.contains(t) ? bias[t].cast<double>() : 0.0) + b.bias;
  }
  d["logit_bias"] = bias;
  d["seed"] = s.seed();
  return d;
}

}  // namespace

void bind_sampler(py::module_& m) {
  const SamplerParams defaults;  // the one place they are set (sampling/sampler.h)
  m.attr("SAMPLING_DEFAULTS") = numeric_params(defaults);
  py::class_<Sampler>(m, "Sampler",
      "Token sampler with the rwkv package's semantics: bans, presence/frequency penalties with decay, then "
      "top-p / top-k / min-p at temperature 1, then the temperature. Not thread-safe: one per sequence.")
      .def(py::init([](int64_t vocab_size, double temperature, double top_p, int64_t top_k, double min_p,
                       double presence, double frequency, double decay, double repetition,
                       const py::object& banned, const py::object& stop, const py::object& weights,
                       const py::object& seed, const py::object& tokenizer, const py::object& logit_bias) {
             if (vocab_size < 1) throw InvalidArgument("vocab_size must be >= 1, got " + std::to_string(vocab_size));
             SamplerParams p;
             p.temperature = temperature;
             p.top_p = top_p;
             p.top_k = top_k;
             p.min_p = min_p;
             p.alpha_presence = presence;
             p.alpha_frequency = frequency;
             p.alpha_decay = decay;
             p.repetition_penalty = repetition;
             p.banned_tokens = token_list(banned, "banned_tokens");
             p.stop_tokens = token_list(stop, "stop_tokens");
             p.logit_bias = bias_list(logit_bias);
             if (!weights.is_none()) {
               Logits w = Logits::ensure(weights);
               if (!w || w.ndim() != 1) throw InvalidArgument("occurrence_weights must be a 1-D array of floats");
               p.occurrence_weights.assign(w.data(), w.data() + w.size());
             }
             p.seed = seed_arg(seed);
             if (!tokenizer.is_none()) {
               if (!weights.is_none())
                 throw InvalidArgument("pass either tokenizer (which sets occurrence_weights) or occurrence_weights");
               add_model_defaults(p, tokenizer.cast<const Tokenizer*>(), static_cast<size_t>(vocab_size),
                                  /*use_default_stop=*/stop.is_none());
             }
             return std::make_unique<Sampler>(static_cast<size_t>(vocab_size), std::move(p));
           }),
           py::arg("vocab_size"), py::kw_only(), py::arg("temperature") = defaults.temperature,
           py::arg("top_p") = defaults.top_p, py::arg("top_k") = defaults.top_k, py::arg("min_p") = defaults.min_p,
           py::arg("presence_penalty") = defaults.alpha_presence,
           py::arg("frequency_penalty") = defaults.alpha_frequency, py::arg("penalty_decay") = defaults.alpha_decay,
           py::arg("repetition_penalty") = defaults.repetition_penalty,
           py::arg("banned_tokens") = py::none(), py::arg("stop_tokens") = py::none(),
           py::arg("occurrence_weights") = py::none(), py::arg("seed") = py::none(), py::arg("tokenizer") = py::none(),
           py::arg("logit_bias") = py::none(),
           "tokenizer: the model's (a native Tokenizer) to apply the per-model policy shared with the C API "
           "(sampling/model_defaults.h): occurrence weights, a ban on ids it cannot decode, and its end-of-text "
           "as the stop token when stop_tokens is None. logit_bias: {token id: bias}, added to the logits before "
           "sampling (OpenAI's logit_bias; any finite number).")
      .def("sample", [](Sampler& s, const Logits& logits, const py::object& allowed) {
             const float* p = logits_ptr(logits, s);
             py::buffer_info keep;
             const uint32_t* mask = mask_ptr(allowed, s, keep);
             if (s.vocab_size() < kReleaseGilVocab) return s.sample(p, s.vocab_size(), mask);
             py::gil_scoped_release release;
             return s.sample(p, s.vocab_size(), mask);
           }, py::arg("logits"), py::arg("allowed") = py::none(),
           "One token id drawn from float32 logits of shape (vocab_size,). allowed: a mask of the tokens this "
           "draw may return (ceil(vocab_size / 32) int32 or uint32 words, bit t % 32 of word t // 32 for token t, "
           "as llguidance fills it); the others count as banned.")
      .def("accept", &Sampler::accept, py::arg("token"),
           "Record a kept token: every occurrence count decays, then the token's count grows by its weight.")
      .def("is_stop", &Sampler::is_stop, py::arg("token"))
      .def("reset", &Sampler::reset, "Forget every occurrence and restart the generator from the seed.")
      .def("adjust_logits", [](const Sampler& s, const Logits& logits, const py::object& allowed) {
             const float* p = logits_ptr(logits, s);
             py::buffer_info keep;
             const uint32_t* mask = mask_ptr(allowed, s, keep);
             py::array_t<float> out(static_cast<py::ssize_t>(s.vocab_size()));
             s.adjust_logits(p, s.vocab_size(), out.mutable_data(), mask);
             return out;
           }, py::arg("logits"), py::arg("allowed") = py::none(),
           "The logits sample() draws from: bans, logit bias, the mask and penalties applied.")
      .def("occurrence", &Sampler::occurrence, py::arg("token"), "The token's decayed occurrence count.")
      .def("seen", &Sampler::seen, py::arg("token"))
      .def_property_readonly("vocab_size", &Sampler::vocab_size)
      .def_property_readonly("seed", &Sampler::seed, "The seed in use (drawn at random when None was given).")
      .def_property_readonly("params", &params_dict);

  m.def("_occurrence_weights", [](const Tokenizer& t, size_t vocab_size) {
        std::vector<float> w = occurrence_weights(t, vocab_size);
        return py::array_t<float>(static_cast<py::ssize_t>(w.size()), w.data());
      }, py::arg("tokenizer"), py::arg("vocab_size"),
      "Per-token accept() weights as the rwkv package computes them (0 for ' ', '\\t', digits, ...).");
}

}  // namespace rrwkv::python
