#pragma once
// The notifier's settings, independent of where they come from: schema() declares the config keys,
// from_config() reads them; tests build Options by hand.

#include <pimap/kit/config.hpp>
#include <pimap/kit/config_schema.hpp>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/wakeup_gate.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace pimap::notifier {

// Kannel sendsms (HTTP GET). The password goes into the URL only when a request is built; it is a
// secret key and never logged.
struct SmsGatewayOptions {
  std::string sendsms_url;  // http://host:port/cgi-bin/sendsms
  std::string username;
  std::string password;
  std::string from;
};

// Kannel PPG (PAP 2.0 over HTTP POST).
struct WapGatewayOptions {
  std::string ppg_url;   // http://host:port/wappush
  std::string ppg_host;  // host part of WAPPUSH=+<msisdn>/TYPE=PLMN@<ppg_host>
};

struct DeliveryOptions {
  std::chrono::milliseconds timeout{5'000};          // one HTTP exchange with a gateway
  int max_attempts = 6;                               // per wake-up, the first included
  std::chrono::milliseconds initial_backoff{500};     // doubles per attempt
  std::chrono::milliseconds max_backoff{30'000};
  std::size_t max_queued = 10'000;                    // wake-ups waiting to be sent; more are failed
};

struct Options {
  std::string brokers;  // "host:port,host:port"
  std::string topic = "pimap.events";
  std::string group = "pimap-notifier";
  std::chrono::milliseconds session_timeout{6'000};
  std::size_t batch_max = 500;  // records processed between two offset commits

  std::string key_prefix = "pimap";
  sessionstore::QueueConfig queue;
  sessionstore::WakeupConfig wakeup;
  // Appended as "@<domain>" to store users without a domain in the EMN mailbox ("mailat:user@domain").
  std::string mail_domain;

  std::optional<SmsGatewayOptions> sms;  // unset: the SMS channel is off
  std::optional<WapGatewayOptions> wap;  // unset: the WAP Push channel is off
  DeliveryOptions delivery;
};

kit::Schema schema();
// Throws kit::ConfigError-like std::runtime_error for combinations the schema cannot express (a
// half-configured gateway).
Options from_config(const kit::Config& cfg);

}  // namespace pimap::notifier
