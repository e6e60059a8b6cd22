// Bindings of Session (one sequence): conversions and the GIL; generate() and state files are
// written in Python on top (python/rrwkv_rt/runtime).
#include <pybind11/stl.h>

#include "core/errors.h"
#include "engine/session.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace rrwkv::python {
void bind_session(py::module_& m) {
  py::class_<Session>(m, "Session",
      "One sequence's recurrent state and scratch on a shared Model. Calls on one session are serialised.")
      .def(py::init([](const py::object& src, std::optional<int> threads, int64_t prefill_chunk,
                       const py::object& initial_state, bool exact, const std::string& device) {
             const int n = threads_arg(threads);
             ModelPtr model = model_arg(src);
             const Device dev = device_arg(device, exact);
             InitialState initial = initial_state_arg(model, initial_state);
             py::gil_scoped_release release;
             return std::make_unique<Session>(model, n, prefill_chunk, dev, std::move(initial), exact);
           }), py::arg("model"), py::arg("threads") = py::none(),
           py::arg("prefill_chunk") = Session::kDefaultPrefillChunk, py::arg("initial_state") = py::none(),
           py::arg("exact") = true, py::arg("device") = "cpu",
           "model: a Model or the path of a .rrwkv file; threads: None for every available CPU; prefill_chunk: "
           "tokens per internal call of forward() (more is a little faster and uses more scratch memory); "
           "initial_state: the state it starts from and reset() returns to, a state-tuning file (.pth or "
           ".safetensors of blocks.N.att.time_state) or its tensors as a dict (None: the model's); exact: False "
           "runs the fast path (activations rounded to bf16, or int8 for quantized weights: faster prefill, the "
           "numbers of Batch(exact=False)); device: \"cpu\", \"cuda\" / \"cuda:N\", or \"auto\" (cuda:0 when a usable CUDA device exists, else the CPU, with a one-line notice on the \"rrwkv_rt\" logger once per process; exact=False stays on the CPU) (the weights are copied to the "
           "device once per Model and shared; logits come back as host arrays; exact=True only).")
      .def_property_readonly("device", [](const Session& s) { return s.device().str(); })
      .def_property_readonly("initial_state", [](const Session& s) { return initial_state_to_python(s.initial_state()); },
           "The floats of the state reset() returns to, in the state's layout (None: the model's own).")
      .def_property_readonly("prefill_chunk", &Session::prefill_chunk)
      .def_property_readonly("exact", &Session::exact)
      .def("step", [](Session& s, const py::object& tok, const py::object& out) {
             const int64_t token = token_id(tok, s.model()->vocab_size());
             LogitsOut logits = logits_out(out, {s.model()->vocab_size()}, s.device());
             {
               py::gil_scoped_release release;
               s.step(token, logits.data);
             }
             return logits.result;
           }, py::arg("token"), py::arg("out") = py::none(),
           "Feed one token; returns its logits (float32, shape (vocab,)), written into `out` if given: a NumPy array, "
           "or on a GPU session a CUDA array (a torch CUDA tensor, anything with __cuda_array_interface__), "
           "which gets them device to device, without passing through the host; `out` is then returned.")
      .def("forward", [](Session& s, const py::object& tokens, bool all_logits) {
             py::array_t<int64_t> toks = token_array(tokens);
             const int64_t n = toks.size(), V = s.model()->vocab_size();
             if (n == 0 && all_logits) return py::array_t<float>(std::vector<py::ssize_t>{0, V});
             py::array_t<float> logits = all_logits ? py::array_t<float>(std::vector<py::ssize_t>{n, V})
                                                    : py::array_t<float>(V);
             const int64_t* src = toks.data();
             float* dst = logits.mutable_data();
             {
               py::gil_scoped_release release;
               s.forward(src, n, dst, all_logits);
             }
             return logits;
           }, py::arg("tokens"), py::arg("all_logits") = false,
           "Ingest tokens in sequence mode; returns the last logits (vocab,) or, with all_logits, (T, vocab).")
      .def("reset", &Session::reset, py::call_guard<py::gil_scoped_release>(),
           "Back to the initial state (every field, pos = 0).")
      .def_property_readonly("pos", [](const Session& s) {
             py::gil_scoped_release release;  // waits for a call running on another thread
             return s.pos();
           }, "Tokens processed since the last reset.")
      .def_property_readonly("threads", &Session::threads)
      .def_property_readonly("model", [](const Session& s) { return ModelHandle(std::const_pointer_cast<Model>(s.model()), "Model"); })
      .def("__repr__", [](const Session& s) {
             return "<rrwkv_rt.Session pos=" + std::to_string(s.pos()) + " threads=" + std::to_string(s.threads()) +
                    " model=" + s.model()->config().arch + " '" + s.model()->file().path() + "'>";
           })
      .def("clone", [](const Session& s) {
             py::gil_scoped_release release;
             return s.clone();
           }, "An independent copy of the state that shares the model.")
      .def("get_state", [](const Session& s) {
             std::string blob;
             {
               py::gil_scoped_release release;
               blob = s.get_state();
             }
             return py::bytes(blob);
           }, "The state as a versioned blob tagged with the model's identity.")
      .def("set_state", [](Session& s, const py::object& blob) {
             const std::string b = blob_arg(blob);
             py::gil_scoped_release release;
             s.set_state(b.data(), b.size());
           }, py::arg("state"),
           "Restore a blob from get_state(): FormatError if it is not an intact state, StateMismatchError if it "
           "is from another model; the state is then unchanged.");
}

}  // namespace rrwkv::python
