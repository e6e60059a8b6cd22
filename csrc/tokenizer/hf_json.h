// Reader of Hugging Face `tokenizer.json` files of the kind the native encoder covers: byte-level
// BPE as GPT-2 and GPT-NeoX use it (model BPE, pre-tokenizer ByteLevel, decoder ByteLevel,
// normalizer none or NFC, added tokens matched as whole strings). Parsed with nlohmann/json
// (third_party/); anything of another kind is refused by name, so that a file never encodes
// differently from the `tokenizers` library without saying so.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace rrwkv {

struct HfAddedToken {
  std::string content;
  TokenId id = 0;
  bool normalized = false;  // matched in the normalized text (else in the raw text, before it)
  bool special = false;
};

struct ByteLevelBpeSpec {
  std::vector<std::pair<std::string, TokenId>> vocab;        // byte-level strings (GPT-2's byte alphabet)
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::vector<HfAddedToken> added;
  bool nfc = false;               // normalizer NFC (else none)
  bool add_prefix_space = false;  // ByteLevel: a space before each piece that lacks one
  bool use_regex = true;          // ByteLevel: split with the GPT-2 pattern first
  bool ignore_merges = false;     // BPE: a word that is a token is that token
};

// Parses `json`; FormatError naming `source` and the field for malformed JSON, a field of the
// wrong type, and every option the native encoder does not implement (e.g. a WordPiece model,
// a Split pre-tokenizer, a Lowercase normalizer, dropout, added tokens with lstrip).
// Ids must be in [0, max_id]; `max_id_what` says why that is the limit, for the message.
ByteLevelBpeSpec parse_tokenizer_json(std::string_view json, const std::string& source, TokenId max_id,
                                      const std::string& max_id_what);

}  // namespace rrwkv
