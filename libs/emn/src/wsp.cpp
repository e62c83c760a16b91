#include <pimap/emn/wsp.hpp>

namespace pimap::emn {
namespace {

constexpr std::uint8_t kPush = 0x06, kConfirmedPush = 0x07;

std::optional<std::uint32_t> uintvar(std::string_view b, std::size_t& pos) {
  std::uint32_t v = 0;
  for (int i = 0; i < 5 && pos < b.size(); ++i) {
    const auto c = static_cast<std::uint8_t>(b[pos++]);
    v = (v << 7) | (c & 0x7F);
    if ((c & 0x80) == 0) return v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<WspPush> parse_wsp_push(std::string_view pdu, std::string* error) {
  auto fail = [error](const char* m) -> std::optional<WspPush> {
    if (error) *error = m;
    return std::nullopt;
  };
  if (pdu.size() < 3) return fail("WSP PDU too short");
  WspPush out;
  out.tid = static_cast<std::uint8_t>(pdu[0]);
  const auto type = static_cast<std::uint8_t>(pdu[1]);
  if (type != kPush && type != kConfirmedPush) return fail("not a WSP push PDU");
  std::size_t pos = 2;
  auto headers_len = uintvar(pdu, pos);
  if (!headers_len || pdu.size() - pos < *headers_len) return fail("truncated WSP headers");
  const std::string_view headers = pdu.substr(pos, *headers_len);
  out.body = std::string(pdu.substr(pos + *headers_len));

  // Content type: short-integer, text, or value-length + media type (+ parameters).
  std::size_t h = 0;
  if (headers.empty()) return fail("WSP push without a content type");
  const auto first = static_cast<std::uint8_t>(headers[0]);
  if (first >= 0x80) {
    out.content_type_code = first & 0x7F;
    h = 1;
  } else if (first >= 0x20) {
    const auto nul = headers.find('\0');
    if (nul == std::string_view::npos) return fail("unterminated content type");
    out.content_type_text = std::string(headers.substr(0, nul));
    h = nul + 1;
  } else {
    std::size_t p = 1;
    std::uint32_t len = first;
    if (first == 31) {
      auto l = uintvar(headers, p);
      if (!l) return fail("bad content type length");
      len = *l;
    }
    if (headers.size() - p < len || len == 0) return fail("truncated content type");
    const auto media = static_cast<std::uint8_t>(headers[p]);
    if (media >= 0x80) {
      out.content_type_code = media & 0x7F;
    } else if (media >= 0x20) {
      const auto field = headers.substr(p, len);
      out.content_type_text = std::string(field.substr(0, field.find('\0')));
    }
    h = p + len;
  }
  out.headers = std::string(headers.substr(h));
  return out;
}

}  // namespace pimap::emn
