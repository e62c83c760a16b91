#pragma once
// The connectionless WSP push PDU (WAP-230-WSP §8.2.4.1) in which a PPG delivers pushed content to
// the handset: TID, PDU type 0x06, a uintvar header length, the content type and headers, then the
// content. What a test (or a client) finds in the binary SMS is this PDU; its body is the EMN WBXML.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pimap::emn {

struct WspPush {
  std::uint8_t tid = 0;
  // Well-known content type as assigned by WINA (e.g. 0x30 application/vnd.wap.emn+wbxml), or -1
  // when the content type was given as text (then see content_type_text).
  int content_type_code = -1;
  std::string content_type_text;
  std::string headers;  // the encoded headers after the content type (e.g. X-Wap-Application-Id)
  std::string body;
};

std::optional<WspPush> parse_wsp_push(std::string_view pdu, std::string* error = nullptr);

// WINA well-known content type of application/vnd.wap.emn+wbxml.
inline constexpr int kEmnWbxmlContentType = 0x30;

}  // namespace pimap::emn
