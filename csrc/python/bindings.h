// One binding function per area; each lives in its own file.
#pragma once

#include <pybind11/pybind11.h>

#include "format/layout.h"

namespace rrwkv::python {

void bind_format(pybind11::module_& m);
void bind_tokenizer(pybind11::module_& m);
void bind_runtime(pybind11::module_& m);
void bind_sampler(pybind11::module_& m);
void bind_wkv(pybind11::module_& m);

// The header config as the dict Python sees everywhere (ModelFile.config, Model.info).
pybind11::dict config_to_dict(const ModelConfig& c);

// A path argument (str, bytes or os.PathLike) as the bytes the OS sees (os.fsencode);
// ValueError for an embedded NUL, TypeError for other types. And back (os.fsdecode).
std::string path_arg(const pybind11::handle& path);
pybind11::object path_to_python(const std::string& path);

}  // namespace rrwkv::python
