// Bindings of the tokenizers: conversions only, with the GIL released for large inputs; the
// factories and conveniences (world(), from_file(), decode_text(), ...) are in
// python/rrwkv_rt/tokenizer.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <string_view>
#include <vector>

#include "core/errors.h"
#include "format/model_file.h"
#include "python/bindings.h"
#include "tokenizer/tokenizer.h"

namespace py = pybind11;

namespace rrwkv::python {
namespace {

constexpr size_t kReleaseGilBytes = 4096;  // below this, releasing the GIL costs more than it frees

// The ids as a numpy int64 array that owns the vector (no copy).
py::array_t<TokenId> to_numpy(std::vector<TokenId>&& ids) {
  auto* owned = new std::vector<TokenId>(std::move(ids));
  py::capsule free_it(owned, [](void* p) { delete static_cast<std::vector<TokenId>*>(p); });
  return py::array_t<TokenId>(static_cast<py::ssize_t>(owned->size()), owned->data(), free_it);
}

std::vector<TokenId> encode(const Tokenizer& t, const py::object& data) {
  std::vector<TokenId> ids;
  auto run = [&](std::string_view text) {
    if (text.size() >= kReleaseGilBytes) {
      py::gil_scoped_release release;
      t.encode(text, ids);
    } else {
      t.encode(text, ids);
    }
  };
  if (py::isinstance<py::str>(data)) {
    py::bytes utf8 = py::reinterpret_steal<py::bytes>(PyUnicode_AsUTF8String(data.ptr()));
    if (!utf8) throw py::error_already_set();  // lone surrogates
    run(std::string_view(utf8));
  } else if (py::isinstance<py::bytes>(data)) {
    run(std::string_view(py::reinterpret_borrow<py::bytes>(data)));
  } else if (PyObject_CheckBuffer(data.ptr())) {  // bytearray, memoryview, uint8 arrays: locked while read
    py::buffer_info info = py::reinterpret_borrow<py::buffer>(data).request();
    if (info.itemsize != 1 || info.ndim > 1 || (info.ndim == 1 && info.strides[0] != 1))
      throw InvalidArgument("encode() takes str, bytes or a contiguous 1-D buffer of bytes; got a buffer of " +
                            std::to_string(info.ndim) + " dimension(s) with " + std::to_string(info.itemsize) +
                            "-byte items");
    run(std::string_view(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size)));
  } else {
    throw py::type_error("encode() takes str, bytes or a bytes-like buffer, not " +
                         std::string(py::str(py::type::handle_of(data).attr("__name__"))));
  }
  return ids;
}

py::bytes decode(const Tokenizer& t, const py::array_t<TokenId, py::array::c_style | py::array::forcecast>& ids) {
  if (ids.ndim() != 1) throw InvalidArgument("decode() takes a 1-D sequence of token ids, got " +
                                             std::to_string(ids.ndim()) + " dimensions");
  std::string out;
  const auto n = static_cast<size_t>(ids.size());
  if (n >= kReleaseGilBytes / 4) {
    py::gil_scoped_release release;
    out = t.decode(ids.data(), n);
  } else {
    out = t.decode(ids.data(), n);
  }
  return py::bytes(out);
}

std::shared_ptr<Tokenizer> from_header(const std::string& kind, const py::bytes& vocab, const std::string& source) {
  const std::string_view v(vocab);
  py::gil_scoped_release release;
  return Tokenizer::from_header(kind, v, source);
}

}  // namespace

void bind_tokenizer(py::module_& m) {
  py::class_<Tokenizer, std::shared_ptr<Tokenizer>>(m, "Tokenizer",
      "A native tokenizer (immutable, safe to share between threads). Use rrwkv_rt.Tokenizer.")
      .def_static("from_header", &from_header, py::arg("kind"), py::arg("vocab"),
                  py::arg("source") = "vocabulary",
                  "Build from a .rrwkv header's tokenizer.kind and tokenizer.vocab; `source` describes the "
                  "vocabulary in error messages.")
      .def_static("from_model", [](const FileHandle& h) -> std::shared_ptr<Tokenizer> {
            const std::shared_ptr<const CheckedFile> f = h.shared();
            py::gil_scoped_release release;
            return Tokenizer::from_model(*f->file, f->model.config.vocab_size);
          }, py::arg("file"), "The tokenizer a ModelFile carries, or None.")
      .def_property_readonly("kind", &Tokenizer::kind)
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size, "One past the largest token id.")
      .def_property_readonly("end_of_text", &Tokenizer::end_of_text,
                             "The end-of-text token (World: 0; a tokenizer.json: <|endoftext|>, </s> or <eos>), "
                             "or None.")
      .def_property_readonly("header_vocab", [](const Tokenizer& t) {
            const std::string_view v = t.header_vocab();
            return py::bytes(v.data(), v.size());
          },
                             "The bytes a .rrwkv header stores as tokenizer.vocab.")
      .def("encode", [](const Tokenizer& t, const py::object& data) { return to_numpy(encode(t, data)); },
           py::arg("data"), "Token ids (int64 array) of str (as UTF-8), bytes or a bytes-like buffer.")
      .def("decode", &decode, py::arg("ids"), "The bytes of a 1-D sequence of token ids; IndexError for a bad id.")
      .def("token_bytes", [](const Tokenizer& t, int64_t id) {
            const std::string_view b = t.token_bytes(id);
            return py::bytes(b.data(), b.size());
          },
           py::arg("id"), "The bytes of one token (b'' for an id that has none).");
}

}  // namespace rrwkv::python
