// Shared by the libFuzzer targets: the only exceptions a target may see from untrusted input
// are the library's own error types; anything else (and every crash, leak or sanitizer report)
// is a finding.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "core/errors.h"

namespace rrwkv::fuzz {

[[noreturn]] inline void finding(const char* what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what);
  std::abort();
}

// Runs body; the expected error types end it quietly.
template <class F>
void expect_clean_errors(F&& body) {
  try {
    body();
  } catch (const FormatError&) {
  } catch (const InvalidArgument&) {
  } catch (const OutOfRange&) {
  } catch (const FileNotFound&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    finding("an exception of a type untrusted input must not cause");
  }
}

}  // namespace rrwkv::fuzz
