// Hostile model files and vocabularies: each must give a specific error, never a crash, a hang
// or a huge allocation (the findings of the adversarial review, one test each).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

#include "core/errors.h"
#include "core/thread_pool.h"
#include "engine/model.h"
#include "format/model_file.h"
#include "support/model_bytes.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/trie_tokenizer.h"
#include "tokenizer/vocab_parser.h"

namespace {

using rrwkv::FormatError;
using rrwkv::ModelConfig;
using rrwkv::ModelFile;
namespace t = rrwkv::testing;

ModelConfig tiny(const std::string& arch = "rrwkv") {
  ModelConfig c;
  c.arch = arch;
  c.n_layer = 1, c.n_embd = 4, c.ffn_dim = 8, c.vocab_size = 300;
  if (arch == "rrwkv") c.medium_interval = 2, c.cm_mode = "add";
  return c;
}

std::string error_of(const std::string& bytes) {
  try {
    rrwkv::Model(ModelFile::from_buffer(bytes.data(), bytes.size(), "m.rrwkv"));
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

// Byte offset of the u64 `offset` of tensor `name` in the table.
size_t offset_field_of(const std::string& bytes, const std::string& name) {
  std::string key;
  t::put_str(key, name);
  const size_t at = bytes.find(key);
  EXPECT_NE(at, std::string::npos) << name;
  const uint8_t ndim = static_cast<uint8_t>(bytes[at + key.size() + 1]);
  return at + key.size() + 2 + 8 * ndim;
}

template <class T>
void poke(std::string& bytes, size_t at, T v) {
  std::memcpy(&bytes[at], &v, sizeof v);
}

TEST(UntrustedModel, BuiltFileIsValid) {
  for (auto dt : {rrwkv::DType::F32, rrwkv::DType::F16, rrwkv::DType::BF16}) {
    const std::string bytes = t::build_model(tiny(), dt);
    EXPECT_EQ(error_of(bytes), "");
    rrwkv::Model m(ModelFile::from_buffer(bytes.data(), bytes.size(), "m.rrwkv"));
    EXPECT_EQ(m.file().path(), "m.rrwkv");
    EXPECT_EQ(m.config().medium_interval, 2u);
  }
}

TEST(UntrustedModel, TensorOffsetPastTheEndIsAnErrorNotACrash) {
  const std::string good = t::build_model(tiny());
  for (uint64_t off : {uint64_t{good.size()} + 64, uint64_t{good.size()} * 4 / 64 * 64, uint64_t{1} << 40,
                       ~uint64_t{63}}) {
    std::string bytes = good;
    poke<uint64_t>(bytes, offset_field_of(bytes, "ln_out.bias"), off);
    t::fix_checksums(bytes);
    const std::string msg = error_of(bytes);
    EXPECT_NE(msg.find("tensor 'ln_out.bias' spans bytes " + std::to_string(off)), std::string::npos) << msg;
  }
}

TEST(UntrustedModel, OverlappingTensorsAreNamed) {
  std::string bytes = t::build_model(tiny());
  uint64_t head_off;
  std::memcpy(&head_off, &bytes[offset_field_of(bytes, "head.weight")], 8);
  const size_t field = offset_field_of(bytes, "ln_out.bias");
  uint64_t old_off;
  std::memcpy(&old_off, &bytes[field], 8);
  std::memset(&bytes[old_off], 0, 4 * 4);          // its old place becomes valid zero padding
  poke<uint64_t>(bytes, field, head_off + 64);  // inside the last tensor
  t::fix_checksums(bytes);
  const std::string msg = error_of(bytes);
  EXPECT_NE(msg.find("overlap"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'head.weight'"), std::string::npos) << msg;
}

TEST(UntrustedModel, ReservedPreambleBytesMustBeZero) {
  std::string bytes = t::build_model(tiny());
  bytes[50] = 1;
  t::fix_checksums(bytes);
  EXPECT_NE(error_of(bytes).find("reserved preamble byte 50 is 1"), std::string::npos);
}

TEST(UntrustedModel, Rwkv4WithMediumsIsRefused) {
  ModelConfig c = tiny("rwkv4");
  c.medium_interval = 3;
  EXPECT_NE(error_of(t::build_model(c)).find("medium_interval=1 and cm_mode='replace', found medium_interval=3"),
            std::string::npos);
  c.medium_interval = 1, c.cm_mode = "add";
  EXPECT_NE(error_of(t::build_model(c)).find("found medium_interval=1 and cm_mode='add'"), std::string::npos);
}

TEST(UntrustedModel, NonUtf8TextIsAFormatErrorWithItsOffset) {
  const std::string msg = error_of(t::build_model(tiny(), rrwkv::DType::F32, {{"meta.\xff", 4, "x"}}));
  EXPECT_NE(msg.find("is not valid UTF-8 (byte "), std::string::npos) << msg;
  EXPECT_NE(msg.find("model file 'm.rrwkv'"), std::string::npos) << msg;
  EXPECT_NE(error_of(t::build_model(tiny(), rrwkv::DType::F32, {{"meta.x", 4, "caf\xc3"}})).find("not valid UTF-8"),
            std::string::npos);
}

TEST(UntrustedModel, NulInANameIsEscapedNotTruncated) {
  const std::string key("meta.a\0b", 8);
  std::string bytes = t::build_model(tiny(), rrwkv::DType::F32, {{key, 9, ""}});  // unknown type code 9
  const std::string msg = error_of(bytes);
  EXPECT_NE(msg.find("'meta.a\\x00b' at byte"), std::string::npos) << msg;
  EXPECT_EQ(std::strlen(msg.c_str()), msg.size());
}

TEST(UntrustedModel, HeaderErrorsNameTheFile) {
  std::string bytes = t::build_model(tiny());
  bytes.resize(200);  // cuts the header
  poke<uint64_t>(bytes, 16, bytes.size());
  poke<uint64_t>(bytes, 24, 200 - 64);
  poke<uint64_t>(bytes, 32, 256);
  t::fix_checksums(bytes);
  const std::string msg = error_of(bytes);
  EXPECT_EQ(msg.rfind("model file 'm.rrwkv'", 0), 0u) << msg;
}

TEST(UntrustedModel, HugeLayerCountInATinyFileFailsFast) {
  std::string bytes = t::build_model(tiny());
  const size_t at = bytes.find("n_layer") + 7 + 1;  // key, type code, then the u64
  poke<uint64_t>(bytes, at, 65536);
  t::fix_checksums(bytes);
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = error_of(bytes);
  EXPECT_NE(msg.find("that many layers need more tensors than the 28 the file has"), std::string::npos) << msg;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

TEST(UntrustedModel, FifoIsRefusedWithoutBlocking) {
  const std::string path = ::testing::TempDir() + "rrwkv_fifo_" + std::to_string(::getpid());
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_THROW(ModelFile::open(path), FormatError);
  rrwkv::OpenOptions mem;
  mem.read_into_memory = true;
  EXPECT_THROW(ModelFile::open(path, mem), FormatError);
  ::unlink(path.c_str());
}

TEST(UntrustedModel, ReadIntoMemoryIsImmuneToTruncation) {
  const std::string bytes = t::build_model(tiny());
  const std::string path = ::testing::TempDir() + "rrwkv_mem_" + std::to_string(::getpid()) + ".rrwkv";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  rrwkv::OpenOptions mem;
  mem.read_into_memory = true;
  auto f = ModelFile::open(path, mem);
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  const auto& head = f->tensor("head.weight");
  float first;
  std::memcpy(&first, head.data, 4);  // would be SIGBUS through a mapping
  float expected;
  std::memcpy(&expected, bytes.data() + head.offset, 4);
  EXPECT_EQ(first, expected);
  EXPECT_THROW(ModelFile::open(path + std::string("\0junk", 5)), rrwkv::FileNotFound);
  ::unlink(path.c_str());
}

TEST(UntrustedModel, PathWithNulIsRefused) {
  EXPECT_THROW(ModelFile::open(std::string("/tmp\0/x", 7)), rrwkv::FileNotFound);
}

// Ids 1..256 are the single bytes 0..255, then `extra` lines.
std::string byte_vocab(const std::string& extra = "") {
  std::string v;
  char buf[32];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "%d b'\\x%02x' 1\n", b + 1, b);
    v += buf;
  }
  return v + extra;
}

TEST(UntrustedVocab, OneHugeIdDoesNotMakeAHugeTable) {
  const std::string vocab = byte_vocab("67108863 'zz' 2\n");
  rrwkv::TrieTokenizer tok(vocab, "v");
  EXPECT_EQ(tok.vocab_size(), 67108864u);
  EXPECT_EQ(tok.token_bytes(67108863), "zz");
  EXPECT_EQ(tok.token_bytes(1000), "");
  EXPECT_EQ(tok.token_bytes(66), "A");
  EXPECT_EQ(tok.encode("zzA"), (std::vector<rrwkv::TokenId>{67108863, 66}));
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  EXPECT_LT(ru.ru_maxrss, 200 * 1024) << "KiB";  // the dense table alone would be 256 MiB
}

TEST(UntrustedVocab, IdsAreBoundedByTheModel) {
  const std::string vocab = byte_vocab("400 'zz' 2\n");
  EXPECT_NO_THROW(rrwkv::Tokenizer::from_header("world", vocab, "v", 401));
  try {
    rrwkv::Tokenizer::from_header("world", vocab, "v", 400);
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("the model's vocab_size is 400"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rrwkv::Tokenizer::from_header("bytes", "", "v", 200), FormatError);
  // and through a model file
  const std::string bytes = t::build_model(tiny(), rrwkv::DType::F32, {{"tokenizer.kind", 4, "world"},
                                                                       {"tokenizer.vocab", 5, vocab}});
  rrwkv::Model m(ModelFile::from_buffer(bytes.data(), bytes.size(), "m.rrwkv"));  // vocab_size 300
  EXPECT_THROW(rrwkv::Tokenizer::from_model(m.file(), m.config().vocab_size), FormatError);
}

TEST(UntrustedVocab, LongTokensAreRefusedSoEncodingStaysFast) {
  const std::string ok(rrwkv::kMaxTokenBytes, 'a'), bad(rrwkv::kMaxTokenBytes + 1, 'a');
  EXPECT_NO_THROW(rrwkv::TrieTokenizer(byte_vocab("300 '" + ok + "' " + std::to_string(ok.size()) + "\n"), "v"));
  try {
    rrwkv::TrieTokenizer(byte_vocab("300 '" + bad + "' " + std::to_string(bad.size()) + "\n"), "v");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("line 257: token 300 states a length of 257 bytes; expected at most 256"),
              std::string::npos)
        << e.what();
  }
  // The worst case left: every position walks a maximal-length prefix of the longest token.
  rrwkv::TrieTokenizer tok(byte_vocab("300 '" + ok + "' " + std::to_string(ok.size()) + "\n"), "v");
  std::string text;
  while (text.size() < 200000) text += std::string(rrwkv::kMaxTokenBytes - 1, 'a') + "b";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(tok.encode(text).size(), text.size());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RRWKV_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RRWKV_UNDER_SANITIZER 1
#endif
#endif

TEST(ThreadPool, ThreadStartFailureThrowsInsteadOfHanging) {
#ifdef RRWKV_UNDER_SANITIZER
  GTEST_SKIP() << "address-space limits do not work under a sanitizer's shadow memory";
#else
  // In a child, so the limit does not reach the rest of the tests; the parent gives it 20 s.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(20);
    struct rlimit lim {256u << 20, 256u << 20};  // 256 MiB: room for a few 8 MiB stacks, not 600
    ::setrlimit(RLIMIT_AS, &lim);
    try {
      rrwkv::ThreadPool pool(600);
      ::_exit(2);  // started them all: the limit did not bite
    } catch (const std::system_error&) {
      ::_exit(0);
    } catch (...) {
      ::_exit(3);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status) << " (14 = the alarm: a hang)";
  EXPECT_EQ(WEXITSTATUS(status), 0);
#endif
}

}  // namespace
