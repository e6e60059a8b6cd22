// Bindings of Batch (the engine: many sequences stepped together): conversions and the GIL.
#include <pybind11/stl.h>

#include "core/errors.h"
#include "engine/engine.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace rrwkv::python {
namespace {

std::vector<int64_t> row_list(const py::object& rows) {
  py::array_t<int64_t> a = token_array(rows, "rows");
  return std::vector<int64_t>(a.data(), a.data() + a.size());
}

}  // namespace

void bind_batch(py::module_& m) {
  py::class_<Engine>(m, "Batch",
      "Up to `capacity` independent sequences (rows) on one shared Model, stepped together so that the weights "
      "are read once for all of them. Rows join with add() and leave with remove() between calls; each has its "
      "own state and position. Calls on one batch are serialised.")
      .def(py::init([](const py::object& src, int64_t capacity, std::optional<int> threads, int64_t prefill_chunk,
                       bool exact, const std::string& device) {
             EngineOptions o;
             o.capacity = capacity;
             o.threads = threads_arg(threads);
             o.prefill_chunk = prefill_chunk;
             o.exact = exact;
             ModelPtr model = model_arg(src);
             o.device = device_arg(device, exact);
             py::gil_scoped_release release;
             return std::make_unique<Engine>(model, o);
           }), py::arg("model"), py::arg("capacity"), py::arg("threads") = py::none(), py::arg("prefill_chunk") = 128,
           py::arg("exact") = true, py::arg("device") = "cpu",
           "model: a Model or a path; capacity: most rows at once; threads: None for every available CPU; exact: "
           "f32 activations, every row of a step bit for bit what Session.step gives alone; False: the fast path "
           "(activations rounded to bf16, or int8 for quantized weights, for the CPU's dot-product instructions: "
           "more throughput on large batches and, for quantized weights, prompts; each row bit for bit what "
           "Session(exact=False) gives alone; docs/FAST_PATH.md); device: \"cpu\", \"cuda\" / \"cuda:N\" or \"auto\" (as Session's).")
      .def_property_readonly("device", [](const Engine& e) { return e.device().str(); })
      .def_property_readonly("capacity", &Engine::capacity)
      .def_property_readonly("threads", &Engine::threads)
      .def_property_readonly("prefill_chunk", &Engine::prefill_chunk)
      .def_property_readonly("exact", &Engine::exact)
      .def_property_readonly("model", [](const Engine& e) { return ModelHandle(std::const_pointer_cast<Model>(e.model()), "Model"); })
      .def_property_readonly("rows", &Engine::rows, "The rows in use, ascending.")
      .def("__len__", [](const Engine& e) { return e.rows().size(); })
      .def("add", [](Engine& e, const py::object& state, const py::object& initial_state) {
             ModelPtr model = std::const_pointer_cast<Model>(e.model());
             const int64_t row = e.add(initial_state_arg(model, initial_state));
             if (!state.is_none()) {
               const std::string b = blob_arg(state);
               try {
                 e.set_state(row, b.data(), b.size());
               } catch (...) {
                 e.remove(row);  // a bad state adds no row
                 throw;
               }
             }
             return row;
           }, py::arg("state") = py::none(), py::arg("initial_state") = py::none(),
           "A new row at the initial state (or at `state`, a blob from get_state()); returns its id. "
           "initial_state (as Session's) is the state it starts from and reset() returns to. "
           "ValueError if the batch is full.")
      .def("remove", &Engine::remove, py::arg("row"), py::call_guard<py::gil_scoped_release>(),
           "The row leaves the batch (its id may be reused).")
      .def("pos", &Engine::pos, py::arg("row"), py::call_guard<py::gil_scoped_release>(),
           "Tokens the row has taken since its last reset.")
      .def("reset", &Engine::reset, py::arg("row"), py::call_guard<py::gil_scoped_release>(),
           "The row back to the initial state.")
      .def("get_state", [](const Engine& e, int64_t row) { return py::bytes(e.get_state(row)); }, py::arg("row"),
           "The row's state as a blob (the same format as Session.get_state()).")
      .def("set_state", [](Engine& e, int64_t row, const py::object& blob) {
             const std::string b = blob_arg(blob);
             py::gil_scoped_release release;
             e.set_state(row, b.data(), b.size());
           }, py::arg("row"), py::arg("state"), "Restore a blob into a row (FormatError / StateMismatchError).")
      .def("step", [](Engine& e, const py::object& rows, const py::object& tokens, const py::object& out) {
             const std::vector<int64_t> r = row_list(rows);
             py::array_t<int64_t> t = token_array(tokens);
             if (static_cast<size_t>(t.size()) != r.size())
               throw InvalidArgument("step: " + std::to_string(r.size()) + " rows but " + std::to_string(t.size()) +
                                     " tokens; give one token per row");
             const auto n = static_cast<py::ssize_t>(r.size());
             LogitsOut logits = logits_out(out, {n, e.model()->vocab_size()}, e.device());
             const int64_t* tp = t.data();
             {
               py::gil_scoped_release release;
               e.step(r.data(), tp, static_cast<int64_t>(r.size()), logits.data);
             }
             return logits.result;
           }, py::arg("rows"), py::arg("tokens"), py::arg("out") = py::none(),
           "One token per row: returns logits (len(rows), vocab), row i for rows[i], written into `out` if given "
           "(a NumPy array, or on a GPU batch a CUDA array such as a torch CUDA tensor: device to device). A bad row "
           "or token raises (IndexError names the row) and no row's state changes.")
      .def("forward", [](Engine& e, int64_t row, const py::object& tokens, bool all_logits) {
             py::array_t<int64_t> toks = token_array(tokens);
             const int64_t n = toks.size(), V = e.model()->vocab_size();
             py::array_t<float> logits = all_logits ? py::array_t<float>(std::vector<py::ssize_t>{n, V})
                                                    : py::array_t<float>(V);
             const int64_t* src = toks.data();
             float* dst = logits.mutable_data();
             {
               py::gil_scoped_release release;
               e.forward(row, src, n, dst, all_logits);
             }
             return logits;
           }, py::arg("row"), py::arg("tokens"), py::arg("all_logits") = false,
           "Many tokens of one row in sequence mode: the last logits (vocab,) or, with all_logits, (T, vocab).")
      .def("hidden_state", [](Engine& e, int64_t row, const py::object& tokens, bool all_tokens) {
             py::array_t<int64_t> toks = token_array(tokens);
             const int64_t n = toks.size(), C = static_cast<int64_t>(e.model()->config().n_embd);
             py::array_t<float> hidden = all_tokens ? py::array_t<float>(std::vector<py::ssize_t>{n, C})
                                                    : py::array_t<float>(C);
             const int64_t* src = toks.data();
             float* dst = hidden.mutable_data();
             {
               py::gil_scoped_release release;
               e.forward(row, src, n, nullptr, all_tokens, dst);
             }
             return hidden;
           }, py::arg("row"), py::arg("tokens"), py::arg("all_tokens") = false,
           "forward() that returns the final hidden state, ln_out(x) before the head, instead of the logits: "
           "(n_embd,) for the last token or, with all_tokens, (T, n_embd). The row's state advances as with "
           "forward(), in the same pieces.")
      .def("run", [](Engine& e, const py::object& rows, const py::list& token_lists) {
             const std::vector<int64_t> r = row_list(rows);
             if (static_cast<size_t>(py::len(token_lists)) != r.size())
               throw InvalidArgument("run: " + std::to_string(r.size()) + " rows but " +
                                     std::to_string(py::len(token_lists)) + " token lists");
             std::vector<int64_t> lens, flat;
             for (const py::handle& h : token_lists) {
               py::array_t<int64_t> t = token_array(py::reinterpret_borrow<py::object>(h));
               lens.push_back(t.size());
               flat.insert(flat.end(), t.data(), t.data() + t.size());
             }
             const auto n = static_cast<py::ssize_t>(r.size());
             py::array_t<float> logits(std::vector<py::ssize_t>{n, e.model()->vocab_size()});
             float* dst = logits.mutable_data();
             {
               py::gil_scoped_release release;
               e.run(r.data(), lens.data(), flat.data(), static_cast<int64_t>(r.size()), dst);
             }
             return logits;
           }, py::arg("rows"), py::arg("token_lists"),
           "Each row its own tokens (any number >= 1): returns each row's last logits (len(rows), vocab). Long "
           "lists are cut into prefill_chunk pieces that run alongside the other rows.")
      .def("__repr__", [](const Engine& e) {
             return "<rrwkv_rt.Batch rows=" + std::to_string(e.rows().size()) + "/" + std::to_string(e.capacity()) +
                    " threads=" + std::to_string(e.threads()) + " model=" + e.model()->config().arch + " '" +
                    e.model()->file().path() + "'>";
           });
}

}  // namespace rrwkv::python
