// Exception types of the runtime. C++ code throws these; the Python bindings map them to
// FormatError(ValueError), FileNotFoundError, IndexError, StateMismatchError(ValueError) and
// ValueError; the C API turns them into status codes. Nothing in the runtime aborts or exits on
// bad input.
#pragma once

#include <stdexcept>
#include <string>

namespace rrwkv {

// A model or state file that is truncated, corrupt, of a newer version or of the wrong layout.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A path that does not exist or cannot be opened.
class FileNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A token id or other index outside its valid range.
class OutOfRange : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

// A bad argument from the caller (wrong sizes, bad option).
class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A failure of the GPU runtime or a kernel launch (out of device memory, a lost device, a launch
// the device refused); Python sees RuntimeError. Bad arguments to GPU code are InvalidArgument.
class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An intact state saved from another model (another architecture, shape or weights).
class StateMismatch : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

}  // namespace rrwkv
