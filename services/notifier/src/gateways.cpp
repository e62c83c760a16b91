#include "gateways.hpp"

#include <pimap/sessionstore/session_id.hpp>

#include <regex>

namespace pimap::notifier {

HttpRequest sendsms_request(const SmsGatewayOptions& o, std::string_view to, std::string_view text) {
  HttpRequest r;
  r.method = "GET";
  r.url = o.sendsms_url + (o.sendsms_url.find('?') == std::string::npos ? "?" : "&") +
          "username=" + url_encode(o.username) + "&password=" + url_encode(o.password) +
          "&from=" + url_encode(o.from) + "&to=" + url_encode(to) + "&text=" + url_encode(text);
  return r;
}

Verdict classify_sendsms(const HttpResult& r) {
  if (!r.ok) return Verdict::retry;
  if (r.status >= 200 && r.status < 300) return Verdict::sent;
  if (r.status == 408 || r.status == 429 || r.status >= 500) return Verdict::retry;
  return Verdict::permanent;
}

std::string make_boundary(std::string_view content) {
  for (;;) {
    std::string b = "pimap-" + sessionstore::generate_session_id();
    if (content.find(b) == std::string_view::npos) return b;
  }
}

std::string pap_body(const WapGatewayOptions& o, const PapPush& p) {
  const std::string crlf = "\r\n";
  std::string body;
  body += "--" + p.boundary + crlf;
  body += "Content-Type: application/xml" + crlf + crlf;
  body += "<?xml version=\"1.0\"?>" + crlf;
  body += "<!DOCTYPE pap PUBLIC \"-//WAPFORUM//DTD PAP 2.0//EN\" \"http://www.wapforum.org/DTD/pap_2.0.dtd\">" + crlf;
  body += "<pap>" + crlf;
  body += "<push-message push-id=\"" + p.push_id + "\">" + crlf;
  body += "<address address-value=\"WAPPUSH=" + p.msisdn + "/TYPE=PLMN@" + o.ppg_host + "\"/>" + crlf;
  body += "<quality-of-service priority=\"high\" delivery-method=\"unconfirmed\" network-required=\"true\" "
          "network=\"GSM\" bearer-required=\"true\" bearer=\"SMS\"/>" + crlf;
  body += "</push-message>" + crlf;
  body += "</pap>" + crlf;
  body += "--" + p.boundary + crlf;
  body += "Content-Type: application/vnd.wap.emn+wbxml" + crlf;
  body += "X-Wap-Application-Id: x-wap-application:emn.ua" + crlf + crlf;
  body += p.content + crlf;
  body += "--" + p.boundary + "--" + crlf;
  return body;
}

HttpRequest pap_request(const WapGatewayOptions& o, const PapPush& p) {
  HttpRequest r;
  r.method = "POST";
  r.url = o.ppg_url;
  r.headers.emplace_back("Content-Type",
                         "multipart/related; boundary=" + p.boundary + "; type=\"application/xml\"");
  r.body = pap_body(o, p);
  return r;
}

Verdict classify_pap(const HttpResult& r) {
  if (!r.ok) return Verdict::retry;
  if (r.status >= 500 || r.status == 408 || r.status == 429) return Verdict::retry;
  // Kannel writes `code ="1001"` (a space before '='), others `code="1001"`.
  static const std::regex code_re(R"(code\s*=\s*["'](\d{4})["'])");
  std::smatch m;
  const std::string body = r.body;
  if (!std::regex_search(body, m, code_re)) return r.status >= 200 && r.status < 300 ? Verdict::retry : Verdict::permanent;
  const char cls = m[1].str()[0];
  if (cls == '1') return Verdict::sent;
  if (cls == '3' || cls == '4') return Verdict::retry;
  return Verdict::permanent;
}

}  // namespace pimap::notifier
