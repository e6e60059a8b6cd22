// tokenizer.json -> ByteLevelBpeSpec; see hf_json.h. Every option is checked against what the
// encoder implements; unknown fields are ignored, as the `tokenizers` library ignores them.
#include "tokenizer/hf_json.h"

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/text.h"

namespace rrwkv {
namespace {

using Json = nlohmann::json;

// Python's tokenizer.py looks for "the native encoder covers byte-level BPE" (NOT_COVERED) to run
// such a file with the `tokenizers` library instead.
const char* kKindNote =
    "; the native encoder covers byte-level BPE tokenizer.json files (GPT-2 / GPT-NeoX: model BPE, "
    "pre_tokenizer and decoder ByteLevel, normalizer none or NFC). The Python package runs other kinds "
    "through the `tokenizers` library";

class Reader {
 public:
  Reader(const std::string& source, TokenId max_id, const std::string& max_id_what)
      : source_(source), max_id_(max_id), max_id_what_(max_id_what) {}

  [[noreturn]] void fail(const std::string& what) const { throw FormatError(source_ + ": " + what); }
  [[noreturn]] void unsupported(const std::string& what) const { fail(what + kKindNote); }

  static std::string type_name(const Json& j) { return j.type_name(); }

  const Json& member(const Json& obj, const char* key, const std::string& where) const {
    const auto it = obj.find(key);
    if (it == obj.end()) fail(where + " has no field '" + key + "'");
    return *it;
  }
  void expect(const Json& j, Json::value_t t, const std::string& where, const char* what) const {
    if (j.type() != t && !(t == Json::value_t::number_integer && j.is_number_unsigned()))
      fail(where + " must be " + what + ", found " + type_name(j));
  }
  // An optional bool (absent or null: `fallback`).
  bool flag(const Json& obj, const char* key, const std::string& where, bool fallback) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    expect(*it, Json::value_t::boolean, where + "." + key, "true or false");
    return it->get<bool>();
  }
  const std::string& str(const Json& j, const std::string& where) const {
    expect(j, Json::value_t::string, where, "a string");
    return j.get_ref<const std::string&>();
  }
  TokenId id(const Json& j, const std::string& where) const {
    if (!j.is_number_integer()) fail(where + " must be an integer token id, found " + type_name(j));
    if (j.is_number_unsigned() ? j.get<uint64_t>() > static_cast<uint64_t>(max_id_)
                               : (j.get<int64_t>() < 0 || j.get<int64_t>() > max_id_))
      fail(where + " is " + j.dump() + "; expected 0 <= id <= " + std::to_string(max_id_) + " (" + max_id_what_ + ")");
    return j.get<TokenId>();
  }
  std::string type_of(const Json& j, const std::string& where) const {
    expect(j, Json::value_t::object, where, "an object");
    return str(member(j, "type", where), where + ".type");
  }

 private:
  const std::string& source_;
  TokenId max_id_;
  const std::string& max_id_what_;
};

// normalizer: null, NFC, or a Sequence of those.
bool read_normalizer(const Reader& r, const Json& j, const std::string& where) {
  if (j.is_null()) return false;
  const std::string type = r.type_of(j, where);
  if (type == "NFC") return true;
  if (type == "Sequence") {
    const Json& list = r.member(j, "normalizers", where);
    r.expect(list, Json::value_t::array, where + ".normalizers", "an array");
    bool nfc = false;
    for (size_t i = 0; i < list.size(); ++i) nfc |= read_normalizer(r, list[i], where + ".normalizers[" + std::to_string(i) + "]");
    return nfc;
  }
  r.unsupported(where + " is of type " + rrwkv::quoted(type) + ", which the native encoder does not implement");
}

void read_pre_tokenizer(const Reader& r, const Json& j, ByteLevelBpeSpec& spec) {
  const std::string where = "pre_tokenizer";
  if (j.is_null()) r.unsupported(where + " is null (not byte-level)");
  const std::string type = r.type_of(j, where);
  if (type != "ByteLevel")
    r.unsupported(where + " is of type " + rrwkv::quoted(type) + " (expected ByteLevel, with its GPT-2 pattern)");
  spec.add_prefix_space = r.flag(j, "add_prefix_space", where, true);
  spec.use_regex = r.flag(j, "use_regex", where, true);
}

void read_model(const Reader& r, const Json& j, ByteLevelBpeSpec& spec) {
  const std::string where = "model";
  const std::string type = r.type_of(j, where);
  if (type != "BPE") r.unsupported(where + " is of type " + rrwkv::quoted(type) + " (expected BPE)");
  const auto dropout = j.find("dropout");
  if (dropout != j.end() && !dropout->is_null() && !(dropout->is_number() && dropout->get<double>() == 0.0))
    r.unsupported("model.dropout is " + dropout->dump() + ": BPE dropout draws random merges (expected null)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto it = j.find(key);
    if (it != j.end() && !it->is_null() && !(it->is_string() && it->get_ref<const std::string&>().empty()))
      r.unsupported(std::string("model.") + key + " is " + it->dump() + " (expected null)");
  }
  if (r.flag(j, "byte_fallback", where, false)) r.unsupported("model.byte_fallback is true (a SentencePiece-style BPE)");
  spec.ignore_merges = r.flag(j, "ignore_merges", where, false);
  const Json& vocab = r.member(j, "vocab", where);
  r.expect(vocab, Json::value_t::object, "model.vocab", "an object of token -> id");
  spec.vocab.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items())
    spec.vocab.emplace_back(token, r.id(id, "model.vocab[" + rrwkv::quoted(token) + "]"));
  const Json& merges = r.member(j, "merges", where);
  r.expect(merges, Json::value_t::array, "model.merges", "an array");
  spec.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const Json& m = merges[i];
    const std::string at = "model.merges[" + std::to_string(i) + "]";
    if (m.is_string()) {  // "a b" (the older layout)
      const std::string& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == s.size() || s.find(' ', sp + 1) != std::string::npos)
        r.fail(at + " is " + rrwkv::quoted(s) + "; expected two tokens separated by one space");
      spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2) {  // ["a", "b"]
      spec.merges.emplace_back(r.str(m[0], at + "[0]"), r.str(m[1], at + "[1]"));
    } else {
      r.fail(at + " must be a string \"a b\" or a pair [\"a\", \"b\"], found " + Reader::type_name(m));
    }
  }
}

void read_added_tokens(const Reader& r, const Json& j, ByteLevelBpeSpec& spec) {
  if (j.is_null()) return;
  r.expect(j, Json::value_t::array, "added_tokens", "an array");
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string where = "added_tokens[" + std::to_string(i) + "]";
    r.expect(j[i], Json::value_t::object, where, "an object");
    HfAddedToken t;
    t.content = r.str(r.member(j[i], "content", where), where + ".content");
    if (t.content.empty()) r.fail(where + ".content is empty; expected the token's text");
    t.id = r.id(r.member(j[i], "id", where), where + ".id");
    t.special = r.flag(j[i], "special", where, false);
    t.normalized = r.flag(j[i], "normalized", where, !t.special);
    for (const char* key : {"single_word", "lstrip", "rstrip"})
      if (r.flag(j[i], key, where, false))
        r.unsupported(where + " (" + rrwkv::quoted(t.content) + ") has " + key + " true (expected false)");
    spec.added.push_back(std::move(t));
  }
}

}  // namespace

ByteLevelBpeSpec parse_tokenizer_json(std::string_view json, const std::string& source, TokenId max_id,
                                      const std::string& max_id_what) {
  Json root;
  try {
    root = Json::parse(json.begin(), json.end());
  } catch (const Json::exception& e) {  // parse_error: its message has the byte position
    throw FormatError(source + " is not valid JSON (" + rrwkv::quoted(e.what(), 300) +
                      "); expected a Hugging Face tokenizer.json (UTF-8 JSON text)");
  }
  const Reader r(source, max_id, max_id_what);
  if (!root.is_object()) r.fail("the top level must be a JSON object, found " + Reader::type_name(root));
  for (const char* key : {"truncation", "padding"}) {
    const auto it = root.find(key);
    if (it != root.end() && !it->is_null())
      r.unsupported(std::string(key) + " is set (" + it->dump().substr(0, 80) + "): encoding would cut or pad ids");
  }
  ByteLevelBpeSpec spec;
  const auto normalizer = root.find("normalizer");
  spec.nfc = normalizer != root.end() && read_normalizer(r, *normalizer, "normalizer");
  read_pre_tokenizer(r, r.member(root, "pre_tokenizer", "the top level"), spec);
  const Json& decoder = r.member(root, "decoder", "the top level");
  if (decoder.is_null() || r.type_of(decoder, "decoder") != "ByteLevel")
    r.unsupported("decoder is " + (decoder.is_null() ? std::string("null") : rrwkv::quoted(r.type_of(decoder, "decoder"))) +
                  " (expected ByteLevel)");
  read_model(r, r.member(root, "model", "the top level"), spec);
  const auto added = root.find("added_tokens");
  if (added != root.end()) read_added_tokens(r, *added, spec);
  // post_processor is not read: it adds tokens only when asked to add special tokens, which
  // rrwkv_rt never does (Python encodes with add_special_tokens=False too).
  return spec;
}

}  // namespace rrwkv
