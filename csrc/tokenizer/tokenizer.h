// The tokenizer interface: bytes -> token ids -> bytes. A model file carries its tokenizer in
// the header fields `tokenizer.kind` and `tokenizer.vocab` (docs/FORMAT.md); from_header()
// rebuilds it from them. Kinds: "bytes" (ids 0..255 are the bytes), "world" (the RWKV World
// vocabulary text format, greedy longest match; the vocab field holds the vocabulary file) and
// "hf" (a Hugging Face tokenizer.json of the byte-level BPE kind, GPT-2 / GPT-NeoX; bpe_tokenizer.h).
// Thread-safety: a Tokenizer is immutable after construction, so any number of threads may
// encode and decode with one at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrwkv {

class ModelFile;

// Token ids are int64_t, like the runtime's Session::step / forward take them.
using TokenId = int64_t;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // The header's `tokenizer.kind`: "bytes", "world" or "hf".
  virtual const std::string& kind() const = 0;
  // One past the largest token id. Ids in [0, vocab_size) that have no token (World's id 0,
  // its end-of-text) decode to no bytes; a model's own vocab_size may be larger.
  virtual size_t vocab_size() const = 0;
  // The end-of-text token, the default stop token of generation (World: 0), if it has one.
  virtual std::optional<TokenId> end_of_text() const { return std::nullopt; }
  // The bytes a .rrwkv header stores in `tokenizer.vocab` to rebuild this tokenizer.
  virtual std::string_view header_vocab() const = 0;

  // Appends the ids of `text` (any bytes, valid UTF-8 or not) to `out`. Never fails: every
  // tokenizer has a token for every single byte.
  virtual void encode(std::string_view text, std::vector<TokenId>& out) const = 0;
  std::vector<TokenId> encode(std::string_view text) const;

  // The bytes of token `id`; throws OutOfRange unless 0 <= id < vocab_size().
  virtual std::string_view token_bytes(int64_t id) const = 0;
  // Concatenated token bytes; throws OutOfRange naming the first bad id and its position.
  std::string decode(const TokenId* ids, size_t n) const;
  std::string decode(const int32_t* ids, size_t n) const;

  // Builds a tokenizer from a header's fields; FormatError for an unknown kind or a bad vocab.
  // `source` describes the vocabulary in error messages ("vocabulary '/path/vocab.txt'").
  // `model_vocab_size` > 0: every token id must be below it (ids the model has logits for).
  static std::unique_ptr<Tokenizer> from_header(std::string_view kind, std::string_view vocab,
                                                const std::string& source = "vocabulary",
                                                uint64_t model_vocab_size = 0);
  // The tokenizer a model file carries, or nullptr if its header has none; its ids are below
  // the model's vocab_size (Model::vocab_size()).
  static std::unique_ptr<Tokenizer> from_model(const ModelFile& file, uint64_t model_vocab_size);

 protected:
  // The OutOfRange message for `id`, e.g. "token id 70000 is out of range [0, 65530) ...".
  std::string out_of_range_message(int64_t id) const;
};

}  // namespace rrwkv
