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

}  // namespace rrwkv::python
