// The tokenizer factory and the shared parts of the interface; see tokenizer.h.
#include "tokenizer/tokenizer.h"

#include <variant>

#include "core/errors.h"
#include "core/text.h"
#include "format/model_file.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/byte_tokenizer.h"
#include "tokenizer/trie_tokenizer.h"

namespace rrwkv {
namespace {

template <class Int>
std::string decode_ids(const Tokenizer& t, const Int* ids, size_t n) {
  std::string out;
  size_t i = 0;
  try {
    for (; i < n; ++i) out += t.token_bytes(ids[i]);
  } catch (const OutOfRange& e) {
    throw OutOfRange(std::string(e.what()) + " (at position " + std::to_string(i) + " of " + std::to_string(n) +
                     " ids)");
  }
  return out;
}

}  // namespace

std::vector<TokenId> Tokenizer::encode(std::string_view text) const {
  std::vector<TokenId> out;
  encode(text, out);
  return out;
}

std::string Tokenizer::decode(const TokenId* ids, size_t n) const { return decode_ids(*this, ids, n); }
std::string Tokenizer::decode(const int32_t* ids, size_t n) const { return decode_ids(*this, ids, n); }

std::string Tokenizer::out_of_range_message(int64_t id) const {
  return "token id " + std::to_string(id) + " is out of range for the " + kind() + " tokenizer; expected 0 <= id < " +
         std::to_string(vocab_size());
}

std::unique_ptr<Tokenizer> Tokenizer::from_header(std::string_view kind, std::string_view vocab,
                                                  const std::string& source, uint64_t model_vocab_size) {
  if (kind == "bytes") {  // needs no vocab; any stored one is unused
    if (model_vocab_size > 0 && model_vocab_size < 256)
      throw FormatError("tokenizer kind 'bytes' uses ids 0..255, but the model's vocab_size is " +
                        std::to_string(model_vocab_size) + " (" + source +
                        "); expected vocab_size >= 256 — re-export the model with a fitting --vocab");
    return std::make_unique<ByteTokenizer>();
  }
  if (kind == "world") {
    if (vocab.empty())
      throw FormatError("tokenizer kind 'world' needs a vocabulary, but " + source +
                        " is empty; re-export the model with --vocab world or --vocab PATH");
    if (model_vocab_size > 0)
      return std::make_unique<TrieTokenizer>(std::string(vocab), source, static_cast<TokenId>(model_vocab_size - 1),
                                             "the model's vocab_size is " + std::to_string(model_vocab_size));
    return std::make_unique<TrieTokenizer>(std::string(vocab), source);
  }
  if (kind == "hf") {
    if (model_vocab_size > 0)
      return std::make_unique<BpeTokenizer>(std::string(vocab), source, static_cast<TokenId>(model_vocab_size - 1),
                                            "the model's vocab_size is " + std::to_string(model_vocab_size));
    return std::make_unique<BpeTokenizer>(std::string(vocab), source);
  }
  throw FormatError("tokenizer kind " + quoted(kind) + " is unknown (" + source +
                    "); expected 'bytes', 'world' or 'hf' (a newer rrwkv_rt may know it, "
                    "or re-export the model with --vocab world|bytes|PATH)");
}

std::unique_ptr<Tokenizer> Tokenizer::from_model(const ModelFile& file, uint64_t model_vocab_size) {
  const auto& fields = file.fields();
  const auto kind = fields.find("tokenizer.kind");
  if (kind == fields.end()) return nullptr;
  const std::string where = file.where();
  const auto* kind_str = std::get_if<std::string>(&kind->second);
  if (!kind_str) throw FormatError(where + ": header field 'tokenizer.kind' must be a str, found another type");
  std::string_view vocab;
  const auto v = fields.find("tokenizer.vocab");
  if (v != fields.end()) {
    const auto* span = std::get_if<ByteSpan>(&v->second);
    if (!span) throw FormatError(where + ": header field 'tokenizer.vocab' must be bytes, found another type");
    vocab = std::string_view(reinterpret_cast<const char*>(span->data), span->size);
  }
  return from_header(*kind_str, vocab, where + " field tokenizer.vocab", model_vocab_size);
}

}  // namespace rrwkv
