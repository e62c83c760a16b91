#pragma once
// Requests to the wake-up gateways and how to read their answers.
// - SMS: Kannel sendsms, `GET <sendsms_url>?username=&password=&from=&to=&text=`. Kannel answers 202
//   "0: Accepted for delivery" / "3: Queued for later delivery"; 4xx for a request it will never take
//   (bad credentials, bad number); 5xx when it cannot send now.
// - WAP Push: a PAP 2.0 push-message POSTed to the PPG as multipart/related: the PAP control entity,
//   then the content entity (application/vnd.wap.emn+wbxml, X-Wap-Application-Id emn.ua). The PPG
//   answers with a PAP response-result code: 1xxx accepted, 2xxx client error (permanent), 3xxx/4xxx
//   server or service failure (transient), 5xxx mobile-device error (permanent).

#include "http_client.hpp"
#include "options.hpp"

#include <string>
#include <string_view>

namespace pimap::notifier {

enum class Verdict { sent, retry, permanent };

HttpRequest sendsms_request(const SmsGatewayOptions& o, std::string_view to, std::string_view text);
Verdict classify_sendsms(const HttpResult& r);

struct PapPush {
  std::string push_id;    // unique per push: "<random>@<ppg_host>"
  std::string msisdn;     // "+4912345678"
  std::string content;    // EMN WBXML
  std::string boundary;   // must not occur in content
};
std::string pap_body(const WapGatewayOptions& o, const PapPush& p);
HttpRequest pap_request(const WapGatewayOptions& o, const PapPush& p);
Verdict classify_pap(const HttpResult& r);

// A boundary that does not occur in `content`.
std::string make_boundary(std::string_view content);

}  // namespace pimap::notifier
