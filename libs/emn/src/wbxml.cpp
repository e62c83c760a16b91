#include <pimap/emn/text.hpp>
#include <pimap/emn/wbxml.hpp>

#include <array>
#include <cstdint>

namespace pimap::emn {
namespace {

// WBXML global tokens (WAP-192 §7.1).
constexpr std::uint8_t SWITCH_PAGE = 0x00, END = 0x01, ENTITY = 0x02, STR_I = 0x03, LITERAL = 0x04,
                       EXT_I_0 = 0x40, EXT_I_2 = 0x42, PI = 0x43, LITERAL_C = 0x44, EXT_T_0 = 0x80,
                       EXT_T_2 = 0x82, STR_T = 0x83, LITERAL_A = 0x84, EXT_0 = 0xC0, EXT_2 = 0xC2,
                       OPAQUE = 0xC3, LITERAL_AC = 0xC4;
constexpr std::uint8_t kVersion13 = 0x03, kPublicIdEmn = 0x0D, kUtf8 = 0x6A;
constexpr std::uint8_t kTagEmn = 0x05, kHasAttributes = 0x80, kHasContent = 0x40;
constexpr std::uint8_t kAttrTimestamp = 0x05, kAttrMailbox = 0x06;
constexpr std::string_view kEmnPublicId = "-//WAPFORUM//DTD EMN 1.0//EN";

struct Prefix {
  std::uint8_t token;
  std::string_view text;
};
// Longest prefix first where one extends another, so the encoder picks the most specific token.
constexpr std::array<Prefix, 7> kMailboxPrefixes{{{0x07, "mailat:"},
                                                  {0x08, "pop://"},
                                                  {0x09, "imap://"},
                                                  {0x0B, "http://www."},
                                                  {0x0A, "http://"},
                                                  {0x0D, "https://www."},
                                                  {0x0C, "https://"}}};
struct ValueToken {
  std::uint8_t token;
  std::string_view text;
};
constexpr std::array<ValueToken, 4> kValues{{{0x85, ".com"}, {0x86, ".edu"}, {0x87, ".net"}, {0x88, ".org"}}};

int bcd(int v) { return ((v / 10) << 4) | (v % 10); }

void put_bcd(std::string& out, int two_digits) { out += static_cast<char>(bcd(two_digits)); }

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool done() const { return pos_ >= b_.size(); }
  std::optional<std::uint8_t> byte() {
    if (pos_ >= b_.size()) return std::nullopt;
    return static_cast<std::uint8_t>(b_[pos_++]);
  }
  std::optional<std::uint8_t> peek() const {
    if (pos_ >= b_.size()) return std::nullopt;
    return static_cast<std::uint8_t>(b_[pos_]);
  }
  // mb_u_int32: 7 bits per octet, most significant first, continuation bit 0x80; at most 5 octets.
  std::optional<std::uint32_t> mb_u_int32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 5; ++i) {
      auto c = byte();
      if (!c) return std::nullopt;
      v = (v << 7) | (*c & 0x7F);
      if ((*c & 0x80) == 0) return v;
    }
    return std::nullopt;
  }
  std::optional<std::string_view> bytes(std::size_t n) {
    if (b_.size() - pos_ < n) return std::nullopt;
    auto s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::optional<std::string_view> cstring() {
    const auto nul = b_.find('\0', pos_);
    if (nul == std::string_view::npos) return std::nullopt;
    auto s = b_.substr(pos_, nul - pos_);
    pos_ = nul + 1;
    return s;
  }

 private:
  std::string_view b_;
  std::size_t pos_ = 0;
};

std::optional<std::string_view> table_string(std::string_view table, std::uint32_t index) {
  if (index >= table.size()) return std::nullopt;
  const auto nul = table.find('\0', index);
  if (nul == std::string_view::npos) return std::nullopt;
  return table.substr(index, nul - index);
}

bool is_global(std::uint8_t t) {
  return t == SWITCH_PAGE || t == END || t == ENTITY || t == STR_I || t == LITERAL ||
         (t >= EXT_I_0 && t <= LITERAL_C) || (t >= EXT_T_0 && t <= LITERAL_A) || (t >= EXT_0 && t <= LITERAL_AC);
}

std::optional<std::chrono::sys_seconds> from_bcd(std::string_view o) {
  if (o.empty() || o.size() > 7) return std::nullopt;
  std::array<int, 7> d{};
  for (std::size_t i = 0; i < o.size(); ++i) {
    const auto c = static_cast<std::uint8_t>(o[i]);
    const int hi = c >> 4, lo = c & 0x0F;
    if (hi > 9 || lo > 9) return std::nullopt;
    d[i] = hi * 10 + lo;
  }
  if (o.size() < 2) return std::nullopt;  // not even a year
  DateTime dt{d[0] * 100 + d[1], d[2], d[3], d[4], d[5], d[6]};
  // Trailing octets left out mean zero; a month or day of zero is not a date.
  if (o.size() < 3) dt.month = 1;
  if (o.size() < 4) dt.day = 1;
  return from_date_time(dt);
}

}  // namespace

std::string encode_wbxml(const Notification& n) {
  std::string out;
  out += static_cast<char>(kVersion13);
  out += static_cast<char>(kPublicIdEmn);
  out += static_cast<char>(kUtf8);
  out += '\0';  // string table length
  out += static_cast<char>(kTagEmn | kHasAttributes);

  std::string_view mailbox = n.mailbox;
  std::uint8_t start = kAttrMailbox;
  for (const auto& p : kMailboxPrefixes) {
    if (mailbox.starts_with(p.text)) {
      start = p.token;
      mailbox.remove_prefix(p.text.size());
      break;
    }
  }
  out += static_cast<char>(start);
  if (!mailbox.empty()) {
    out += static_cast<char>(STR_I);
    // A NUL would end the inline string early; a mailbox URI never holds one.
    for (char c : mailbox)
      if (c != '\0') out += c;
    out += '\0';
  }

  const auto dt = to_date_time(n.timestamp);
  out += static_cast<char>(kAttrTimestamp);
  out += static_cast<char>(OPAQUE);
  out += static_cast<char>(7);
  put_bcd(out, dt.year / 100);
  put_bcd(out, dt.year % 100);
  put_bcd(out, dt.month);
  put_bcd(out, dt.day);
  put_bcd(out, dt.hour);
  put_bcd(out, dt.minute);
  put_bcd(out, dt.second);
  out += static_cast<char>(END);  // end of the attribute list; no content, so no end tag
  return out;
}

std::optional<Notification> decode_wbxml(std::string_view bytes, std::string* error) {
  auto fail = [error](std::string m) -> std::optional<Notification> {
    if (error) *error = std::move(m);
    return std::nullopt;
  };
  Reader r(bytes);
  auto version = r.byte();
  if (!version || *version > 0x03) return fail("unsupported WBXML version");
  auto public_id = r.mb_u_int32();
  if (!public_id) return fail("truncated public id");
  std::optional<std::uint32_t> public_id_index;
  if (*public_id == 0) {
    public_id_index = r.mb_u_int32();
    if (!public_id_index) return fail("truncated public id index");
  } else if (*public_id != kPublicIdEmn) {
    return fail("not an EMN document (public id " + std::to_string(*public_id) + ")");
  }
  if (!r.mb_u_int32()) return fail("truncated charset");  // any charset: EMN values are ASCII
  auto table_len = r.mb_u_int32();
  if (!table_len) return fail("truncated string table length");
  auto table = r.bytes(*table_len);
  if (!table) return fail("truncated string table");
  if (public_id_index) {
    auto id = table_string(*table, *public_id_index);
    if (!id || *id != kEmnPublicId) return fail("not an EMN document (public id string)");
  }

  std::uint8_t page = 0;
  std::optional<std::uint8_t> tag;
  while (!tag) {
    auto t = r.byte();
    if (!t) return fail("no element");
    if (*t == SWITCH_PAGE) {
      auto p = r.byte();
      if (!p) return fail("truncated SWITCH_PAGE");
      page = *p;
    } else if (*t == PI) {
      return fail("processing instructions are not supported");
    } else {
      tag = *t;
    }
  }
  if (page != 0 || (*tag & 0x3F) != kTagEmn) return fail("root element is not <emn>");
  if ((*tag & kHasAttributes) == 0) return fail("<emn> without attributes");

  std::optional<std::string> mailbox;
  std::optional<std::chrono::sys_seconds> timestamp;
  std::optional<std::uint8_t> current;  // attribute start token being read
  std::string value;
  std::optional<std::string> opaque;
  auto finish_attribute = [&]() -> bool {
    if (!current) return true;
    if (*current == kAttrTimestamp) {
      if (opaque) {
        timestamp = from_bcd(*opaque);
        if (!timestamp) return false;
      } else {
        timestamp = parse_timestamp(value);
        if (!timestamp) return false;
      }
    } else {
      mailbox = value;
    }
    current.reset();
    opaque.reset();
    value.clear();
    return true;
  };
  for (;;) {
    auto t = r.byte();
    if (!t) return fail("truncated attribute list");
    if (*t == END) {
      if (!finish_attribute()) return fail("malformed timestamp");
      break;
    }
    if (*t == SWITCH_PAGE) {
      auto p = r.byte();
      if (!p || *p != 0) return fail("unknown attribute code page");
      continue;
    }
    if (*t == STR_I || *t == STR_T || *t == OPAQUE || *t == ENTITY) {
      if (!current) return fail("attribute value without an attribute");
      if (*t == STR_I) {
        auto s = r.cstring();
        if (!s) return fail("unterminated inline string");
        value += *s;
      } else if (*t == STR_T) {
        auto i = r.mb_u_int32();
        auto s = i ? table_string(*table, *i) : std::nullopt;
        if (!s) return fail("bad string table reference");
        value += *s;
      } else if (*t == OPAQUE) {
        auto n = r.mb_u_int32();
        auto s = n ? r.bytes(*n) : std::nullopt;
        if (!s) return fail("truncated opaque data");
        opaque = std::string(*s);
      } else {
        auto e = r.mb_u_int32();
        // Only characters XML allows (and the encoder can write back): no NUL or other controls.
        if (!e || *e > 0x7F || (*e < 0x20 && *e != 0x09 && *e != 0x0A && *e != 0x0D)) {
          return fail("unsupported entity");
        }
        value += static_cast<char>(*e);
      }
      continue;
    }
    if (is_global(*t)) return fail("unsupported WBXML token in attributes");
    if (*t >= 0x80) {  // attribute value token
      if (!current) return fail("attribute value without an attribute");
      bool known = false;
      for (const auto& v : kValues)
        if (v.token == *t) {
          value += v.text;
          known = true;
        }
      if (!known) return fail("unknown attribute value token");
      continue;
    }
    // A new attribute start.
    if (!finish_attribute()) return fail("malformed timestamp");
    if (*t == kAttrTimestamp || *t == kAttrMailbox) {
      current = *t;
    } else {
      bool known = false;
      for (const auto& p : kMailboxPrefixes)
        if (p.token == *t) {
          current = kAttrMailbox;
          value = std::string(p.text);
          known = true;
        }
      if (!known) return fail("unknown attribute token");
    }
  }
  if ((*tag & kHasContent) != 0) {
    // <emn> content is empty by the DTD; skip whatever an encoder put there up to its END.
    int depth = 1;
    while (depth > 0) {
      auto t = r.byte();
      if (!t) return fail("truncated element content");
      if (*t == END) --depth;
      else if (*t == STR_I) {
        if (!r.cstring()) return fail("unterminated inline string");
      } else if (*t == STR_T) {
        if (!r.mb_u_int32()) return fail("truncated string reference");
      } else if (*t == OPAQUE) {
        auto n = r.mb_u_int32();
        if (!n || !r.bytes(*n)) return fail("truncated opaque data");
      } else if (*t == ENTITY) {
        if (!r.mb_u_int32()) return fail("truncated entity");
      } else if (*t == SWITCH_PAGE) {
        if (!r.byte()) return fail("truncated SWITCH_PAGE");
      } else if (!is_global(*t)) {
        if (*t & kHasAttributes) return fail("nested element with attributes");
        if (*t & kHasContent) ++depth;
      } else {
        return fail("unsupported WBXML token in content");
      }
    }
  }
  if (!mailbox || mailbox->empty()) return fail("no mailbox attribute");
  if (!timestamp) return fail("no timestamp attribute");
  return Notification{std::move(*mailbox), *timestamp};
}

}  // namespace pimap::emn
