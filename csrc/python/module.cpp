// The rrwkv_rt._core extension: type conversions and exception mapping only; conveniences are
// written in Python on top (python/rrwkv_rt).
#include <pybind11/pybind11.h>

#include "core/errors.h"
#include "python/bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "rrwkv_rt native core";
  m.attr("__version__") = RRWKV_VERSION;

  // FormatError subclasses ValueError so callers that catch ValueError keep working.
  static py::exception<rrwkv::FormatError> format_error(m, "FormatError", PyExc_ValueError);
  // A state saved from another model: a ValueError too, distinct from a corrupt one (FormatError).
  static py::exception<rrwkv::StateMismatch> state_mismatch(m, "StateMismatchError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const rrwkv::FormatError& e) {
      py::set_error(format_error, e.what());
    } catch (const rrwkv::FileNotFound& e) {
      py::set_error(PyExc_FileNotFoundError, e.what());
    } catch (const rrwkv::OutOfRange& e) {
      py::set_error(PyExc_IndexError, e.what());
    } catch (const rrwkv::StateMismatch& e) {
      py::set_error(state_mismatch, e.what());
    } catch (const rrwkv::InvalidArgument& e) {
      py::set_error(PyExc_ValueError, e.what());
    }
  });

  rrwkv::python::bind_format(m);
  rrwkv::python::bind_tokenizer(m);
  rrwkv::python::bind_model(m);
  rrwkv::python::bind_session(m);
  rrwkv::python::bind_batch(m);
  rrwkv::python::bind_sampler(m);
  rrwkv::python::bind_wkv(m);
}
