#include "client_common.hpp"

namespace pimap::kafka::detail {

Result<std::unique_ptr<RdKafka::Conf>> make_conf(
    const CommonOptions& options, const std::vector<std::pair<std::string, std::string>>& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  auto set = [&](const std::string& k, const std::string& v) -> Error {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK)
      return Error::make(ErrorKind::config, "kafka property '" + k + "': " + err);
    return {};
  };
  if (options.brokers.empty()) return Error::make(ErrorKind::config, "kafka: no brokers configured");
  if (auto e = set("bootstrap.servers", options.brokers); !e.ok()) return e;
  if (auto e = set("client.id", options.client_id); !e.ok()) return e;
  for (const auto& [k, v] : properties)
    if (auto e = set(k, v); !e.ok()) return e;
  for (const auto& [k, v] : options.extra)
    if (auto e = set(k, v); !e.ok()) return e;
  return conf;
}

void EventRouter::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR: {
      if (event.fatal()) {
        std::string reason = event.str();
        if (handle_ != nullptr) {
          auto code = handle_->fatal_error(reason);
          std::lock_guard lock(mu_);
          fatal_ = Error{ErrorKind::fatal, static_cast<int>(code),
                         "kafka fatal error: " + RdKafka::err2str(code) + ": " + reason};
        } else {
          std::lock_guard lock(mu_);
          fatal_ = Error{ErrorKind::fatal, static_cast<int>(event.err()), "kafka fatal error: " + reason};
        }
      }
      if (sink_) sink_(3, RdKafka::err2str(event.err()) + ": " + event.str());
      break;
    }
    case RdKafka::Event::EVENT_LOG:
      if (sink_) sink_(static_cast<int>(event.severity()), event.fac() + ": " + event.str());
      break;
    default:
      break;
  }
}

std::optional<Error> EventRouter::fatal() const {
  std::lock_guard lock(mu_);
  return fatal_;
}

}  // namespace pimap::kafka::detail
