#pragma once
// Settings shared by producer and consumer.

#include <functional>
#include <map>
#include <string>

namespace pimap::kafka {

// librdkafka's log lines (syslog levels: 3 error, 4 warning, 6 info, 7 debug). Without a sink they are
// dropped, so nothing but the service's own JSON log lines reach stderr.
using LogSink = std::function<void(int syslog_level, const std::string& message)>;

struct CommonOptions {
  std::string brokers;    // "host:port[,host:port...]"
  std::string client_id = "pimap";
  LogSink log;            // optional
  // Raw librdkafka properties applied last (tests, tuning); a bad one fails create() with ErrorKind::config.
  std::map<std::string, std::string> extra;
};

}  // namespace pimap::kafka
