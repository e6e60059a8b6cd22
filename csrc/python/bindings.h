// One binding function per area, each in its own file, and the conversions they share.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/errors.h"
#include "engine/model.h"

namespace rrwkv::python {

void bind_format(pybind11::module_& m);
void bind_tokenizer(pybind11::module_& m);
void bind_model(pybind11::module_& m);
void bind_session(pybind11::module_& m);
void bind_batch(pybind11::module_& m);
void bind_sampler(pybind11::module_& m);
void bind_wkv(pybind11::module_& m);

// The header config as the dict Python sees everywhere (ModelFile.config, Model.info): the common
// fields, `arch` and the fields of that architecture.
pybind11::dict config_to_dict(const ModelConfig& c);

// A path argument (str, bytes or os.PathLike) as the bytes the OS sees (os.fsencode);
// ValueError for an embedded NUL, TypeError for other types. And back (os.fsdecode).
std::string path_arg(const pybind11::handle& path);
pybind11::object path_to_python(const std::string& path);

using ModelPtr = std::shared_ptr<Model>;

// What Python holds as a `Model` or `ModelFile`: a shared pointer that close() (or the end of a
// `with` block) drops, so the mapping is released as soon as no session, batch or tensor view
// still uses it; they keep their own references and stay valid. A closed handle raises
// ValueError. Two handles are equal when they hold the same object (`s.model == model`).
template <class T>
class Handle {
 public:
  Handle(std::shared_ptr<T> p, const char* kind) : p_(std::move(p)), kind_(kind), id_(std::uintptr_t(p_.get())) {}
  // A reference of the caller's own: hold it for as long as the object is used, since Python
  // code run meanwhile (a path conversion, a gc callback, another thread) may close() this handle.
  std::shared_ptr<T> shared() const {
    if (!p_)
      throw InvalidArgument(std::string("this ") + kind_ + " is closed (close() was called or its `with` block "
                            "ended); open the file again, e.g. rrwkv_rt." + kind_ + "(path)");
    return p_;
  }
  void close() { p_.reset(); }
  bool closed() const { return !p_; }
  std::uintptr_t id() const { return id_; }

 private:
  std::shared_ptr<T> p_;
  const char* kind_;
  std::uintptr_t id_;  // the object's address, kept after close() for __hash__
};
// What Python holds as a ModelFile: the validated file and the model it describes, checked as a
// Model checks it (arch/base/model_check.h), so that every file it opens also opens as a Model.
struct CheckedFile {
  std::shared_ptr<const ModelFile> file;
  CheckedModel model;
};
using ModelHandle = Handle<Model>;
using FileHandle = Handle<const CheckedFile>;
// Opens a ModelFile handle (FileNotFound, FormatError), with the GIL released meanwhile.
FileHandle open_checked_file(std::function<std::shared_ptr<const ModelFile>()> open);

// close(), closed, __enter__/__exit__, __eq__ and __hash__ of a Handle class.
template <class H, class Cls>
void bind_handle_protocol(Cls& cls) {
  namespace py = pybind11;
  cls.def("close", &H::close, "Drop this object's reference to the file: its mapping is released once no session, "
                               "batch or tensor view uses it. Using this object afterwards raises ValueError.")
      .def_property_readonly("closed", &H::closed)
      .def("__enter__", [](const py::object& self) { return self; })
      .def("__exit__", [](H& h, const py::args&) { h.close(); return false; })
      .def("__eq__", [](const H& a, const py::object& other) {
        if (!py::isinstance<H>(other)) return false;
        const H& b = other.cast<const H&>();
        return &a == &b || (!a.closed() && !b.closed() && a.id() == b.id());
      })
      .def("__hash__", [](const H& h) { return py::hash(py::int_(h.id())); });
}

// A Model argument: a Model, or the path of a .rrwkv file to open.
ModelPtr model_arg(const pybind11::object& model_or_path);
ModelPtr open_model(const pybind11::object& path, bool verify_checksums, bool read_into_memory = false);
// threads=None -> 0 (every CPU); ValueError for < 1.
int threads_arg(const std::optional<int>& threads);
// The device of a Session or Batch: "cpu", "cuda", "cuda:N" or "auto" (core/device.h's
// resolve_device; exact=False keeps "auto" on the CPU). The notice of "auto" goes once per
// process to the "rrwkv_rt" logger (a warning, so that it shows without logging configured).
Device device_arg(const std::string& name, bool exact);
// One token id: any Python or numpy integer; ids beyond int64 are out of range, not an overflow.
int64_t token_id(const pybind11::object& tok, int64_t vocab);
// Any 1-D sequence of integers as contiguous int64.
pybind11::array_t<int64_t> token_array(const pybind11::object& tokens, const char* what = "tokens");
// Bytes of a state blob argument (bytes, bytearray, memoryview, contiguous uint8 array).
std::string blob_arg(const pybind11::object& blob);

// An `initial_state=` argument: None -> nullptr; anything else (a state-tuning file, a dict of
// its tensors, the floats of a whole state) is read by rrwkv_rt.runtime.initial_state.
InitialState initial_state_arg(const ModelPtr& model, const pybind11::object& spec);
// A row's initial state as a float32 array (None where it is the model's).
pybind11::object initial_state_to_python(const InitialState& initial);

// `out` if given (checked: a writable, contiguous float32 array of `shape`), else a new array.
pybind11::array_t<float> float_output(const pybind11::object& out, std::vector<pybind11::ssize_t> shape);

// Where a call's logits go, and what it returns: `out` if given, else a new array. `out` is a
// NumPy array (checked as float_output does) or, for an engine on a GPU, a CUDA array (an object
// with __cuda_array_interface__: a torch CUDA tensor, a CuPy array) of float32 `shape`,
// C-contiguous and writable, on the engine's device: the logits then go there device to device,
// never through the host (after the work its producer queued on its stream, if it names one).
struct LogitsOut {
  pybind11::object result;
  float* data;
};
LogitsOut logits_out(const pybind11::object& out, std::vector<pybind11::ssize_t> shape, const Device& device);

}  // namespace rrwkv::python
