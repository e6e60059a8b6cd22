#include "format/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>

#include "core/errors.h"
#include "core/text.h"

namespace rrwkv {
namespace {

// Closes the descriptor on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens `path` read-only and checks that it is a regular file; returns its size.
// O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever, before the check.
uint64_t open_regular(const std::string& path, Fd& f) {
  if (path.find('\0') != std::string::npos)
    throw FileNotFound("model path " + quoted(path, 4096) + " contains a NUL byte; no file has such a name");
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f.fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR)
      throw FileNotFound("model file " + quoted(path, 4096) + " does not exist; check the path");
    throw FileNotFound("cannot open model file " + quoted(path, 4096) + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw FormatError(quoted(path, 4096) + " is not a regular file; pass the path of a .rrwkv model file");
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

MappedFile::MappedFile(const std::string& path, Load load) : path_(path) {
  Fd f{-1};
  const uint64_t size = open_regular(path, f);
  if (size == 0) return;
  if (load == Load::Map) map(f.fd, size);
  else copy(f.fd, size);
}

void MappedFile::map(int fd, uint64_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    throw FormatError("cannot memory-map " + quoted(path_, 4096) + ": " + std::strerror(errno));
  data_ = static_cast<const uint8_t*>(p);
  size_ = mapped_ = size;
#ifdef MADV_HUGEPAGE
  // Advisory: pages read through this mapping go into 2 MiB page-cache folios, which the kernel
  // maps with 2 MiB pages (where the cache does not hold the file in smaller ones already).
  // Ignored where unsupported.
  (void)::madvise(p, size, MADV_HUGEPAGE);
#endif
  // the mapping keeps the file alive after the descriptor closes
}

void MappedFile::copy(int fd, uint64_t size) {
  // 2 MiB more than the file, then trimmed to a 2 MiB-aligned start: every whole 2 MiB of the file
  // can get a 2 MiB page whatever address the kernel picks
  constexpr uint64_t kHuge = uint64_t{1} << 21;
  const uint64_t span = size + kHuge;
  void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    if (errno == ENOMEM) throw std::bad_alloc();
    throw FormatError("cannot allocate " + std::to_string(size) + " bytes to read " + quoted(path_, 4096) +
                      " into: " + std::strerror(errno) + "; map the file instead");
  }
  const auto start = reinterpret_cast<uintptr_t>(p), aligned = (start + kHuge - 1) & ~uintptr_t{kHuge - 1};
  if (aligned > start) ::munmap(p, aligned - start);
  if (aligned + size < start + span) ::munmap(reinterpret_cast<void*>(aligned + size), start + span - aligned - size);
  auto* out = reinterpret_cast<uint8_t*>(aligned);
  data_ = out;
  mapped_ = size;
#ifdef MADV_HUGEPAGE
  (void)::madvise(out, size, MADV_HUGEPAGE);  // advisory, before the first touch: ignored where unsupported
#endif
  while (size_ < size) {
    const ssize_t n = ::read(fd, out + size_, size - size_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::munmap(out, size);  // a constructor that throws runs no destructor
      data_ = nullptr;
      throw FormatError("cannot read " + quoted(path_, 4096) + ": " + std::strerror(err));
    }
    if (n == 0) break;  // the file shrank meanwhile: the size check in the reader reports it
    size_ += static_cast<uint64_t>(n);
  }
  (void)::mprotect(out, size, PROT_READ);  // immutable from here, as a mapping of the file is
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), mapped_);
}

}  // namespace rrwkv
