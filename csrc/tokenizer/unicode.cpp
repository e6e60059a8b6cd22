// UTF-8, character classes and NFC over the generated tables; see unicode.h. NFC follows UAX #15:
// full canonical decomposition, canonical ordering of combining marks, canonical composition.
#include "tokenizer/unicode.h"

#include <algorithm>
#include <vector>

#include "core/text.h"

namespace rrwkv::unicode {
namespace {

struct CodeRange {
  char32_t first, last;
  uint8_t value;
};
struct Decomposition {
  char32_t cp;
  uint16_t offset;
  uint8_t length;
};
struct Composition {
  char32_t first, second, composite;
};

#include "tokenizer/unicode_tables.inc"

template <size_t N>
uint8_t lookup(const CodeRange (&table)[N], char32_t cp) {
  const CodeRange* end = table + N;
  const CodeRange* r = std::upper_bound(table, end, cp, [](char32_t c, const CodeRange& x) { return c < x.first; });
  if (r == table) return 0;
  --r;
  return cp <= r->last ? r->value : 0;
}

// Hangul syllables are composed and decomposed arithmetically (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

// Invalid bytes travel through NFC as these values: no class, never composed, written back as the byte.
constexpr char32_t kByteMark = 0x80000000;

uint8_t combining_class(char32_t cp) { return cp >= 0x300 && cp < kByteMark ? lookup(kCombiningClass, cp) : 0; }

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (cp >= 0xC0 && cp < kByteMark) {
    const auto* end = kDecomposition + std::size(kDecomposition);
    const auto* d = std::lower_bound(kDecomposition, end, cp, [](const Decomposition& x, char32_t c) { return x.cp < c; });
    if (d != end && d->cp == cp) {
      out.insert(out.end(), kDecompositionData + d->offset, kDecompositionData + d->offset + d->length);
      return;
    }
  }
  out.push_back(cp);
}

// The primary composite of (a, b), or 0.
char32_t compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto* end = kComposition + std::size(kComposition);
  const auto* c = std::lower_bound(kComposition, end, std::make_pair(a, b), [](const Composition& x, auto key) {
    return x.first < key.first || (x.first == key.first && x.second < key.second);
  });
  return c != end && c->first == a && c->second == b ? c->composite : 0;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp >= kByteMark) out += static_cast<char>(cp & 0xFF);
  else rrwkv::append_utf8(out, static_cast<uint32_t>(cp));
}

// NFC's quick check: true if `text` is certainly in NFC already.
bool is_nfc(std::string_view text) {
  uint8_t last_ccc = 0;
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      last_ccc = 0;
      ++i;
      continue;
    }
    const Decoded d = decode_utf8(text, i);
    i += d.len;
    if (d.cp == kInvalid) {
      last_ccc = 0;
      continue;
    }
    const uint8_t ccc = combining_class(d.cp);
    if ((ccc != 0 && ccc < last_ccc) || lookup(kNfcCheck, d.cp)) return false;
    last_ccc = ccc;
  }
  return true;
}

}  // namespace

const char* version() { return RRWKV_UNICODE_VERSION; }

Decoded decode_utf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[pos + k]); };
  if (byte(0) < 0x80) return {byte(0), 1};
  const size_t len = utf8_sequence_length(text, pos);  // validates (core/text.h)
  if (len == 0) return {kInvalid, 1};
  char32_t cp = byte(0) & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (byte(k) & 0x3F);
  return {cp, len};
}

CharClass char_class(char32_t cp) {
  if (cp == kInvalid) return CharClass::kOther;
  return static_cast<CharClass>(lookup(kCharClass, cp));
}

std::string nfc(std::string_view text) {
  if (is_nfc(text)) return std::string(text);
  // decompose every character fully, keeping invalid bytes as marks
  std::vector<char32_t> chars;
  chars.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const Decoded d = decode_utf8(text, i);
    if (d.cp == kInvalid)
      chars.push_back(kByteMark | static_cast<unsigned char>(text[i]));
    else
      decompose(d.cp, chars);
    i += d.len;
  }
  // canonical ordering: each run of combining marks sorted by class, stably
  for (size_t i = 0; i < chars.size();) {
    if (combining_class(chars[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < chars.size() && combining_class(chars[j]) != 0) ++j;
    std::stable_sort(chars.begin() + i, chars.begin() + j,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  // canonical composition: a character joins the last starter unless something between blocks it
  std::vector<char32_t> out;
  out.reserve(chars.size());
  size_t starter = SIZE_MAX;
  int last_ccc = -1;  // class of the last character since the starter; -1: none
  for (char32_t c : chars) {
    const uint8_t ccc = combining_class(c);
    if (starter != SIZE_MAX && c < kByteMark && (last_ccc == -1 || (last_ccc != 0 && last_ccc < ccc))) {
      if (char32_t p = compose(out[starter], c)) {
        out[starter] = p;
        continue;
      }
    }
    if (ccc == 0) {
      starter = c < kByteMark ? out.size() : SIZE_MAX;
      last_ccc = -1;
    } else {
      last_ccc = ccc;
    }
    out.push_back(c);
  }
  std::string result;
  result.reserve(text.size());
  for (char32_t c : out) append_utf8(c, result);
  return result;
}

}  // namespace rrwkv::unicode
