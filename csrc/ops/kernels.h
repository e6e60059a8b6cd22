// Which weight types have kernels on which device: the kernel columns of the dtype table
// (core/dtype.h holds its storage columns, as ggml splits type_traits from its CPU traits). The
// CPU's are the rows of the kernel table of the ISA in use (kernels/cpu/matvec.h); the CUDA
// backend's matvec and embedding kernels read every storable type. An op asks here before it takes a matrix of a type.
#pragma once

#include "core/device.h"
#include "core/dtype.h"

namespace rrwkv {

bool has_kernel(DType t, const Device& device);

// InvalidArgument unless `op` can take a matrix of type `t` on `device`: the backend's message
// (throw_backend_unavailable) when this build has none for the device, else one naming the type.
void require_kernel(const char* op, DType t, const Device& device);

}  // namespace rrwkv
