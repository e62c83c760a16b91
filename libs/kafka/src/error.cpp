#include <pimap/kafka/error.hpp>

#include <librdkafka/rdkafkacpp.h>

namespace pimap::kafka {

namespace {

ErrorKind kind_of(RdKafka::ErrorCode code) {
  switch (code) {
    case RdKafka::ERR_NO_ERROR:
      return ErrorKind::none;
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT_QUEUE:
      return ErrorKind::timed_out;
    case RdKafka::ERR__QUEUE_FULL:
      return ErrorKind::queue_full;
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__RESOLVE:
    case RdKafka::ERR__WAIT_COORD:
    case RdKafka::ERR_BROKER_NOT_AVAILABLE:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorKind::unavailable;
    case RdKafka::ERR__FATAL:
      return ErrorKind::fatal;
    case RdKafka::ERR__PURGE_QUEUE:
    case RdKafka::ERR__PURGE_INFLIGHT:
      return ErrorKind::purged;
    case RdKafka::ERR__DESTROY:
      return ErrorKind::closed;
    case RdKafka::ERR__INVALID_ARG:
      return ErrorKind::config;
    default:
      return ErrorKind::broker;
  }
}

}  // namespace

Error from_rdkafka(int code, const std::string& context) {
  auto c = static_cast<RdKafka::ErrorCode>(code);
  if (c == RdKafka::ERR_NO_ERROR) return {};
  return Error{kind_of(c), code, context + ": " + RdKafka::err2str(c)};
}

const char* to_string(ErrorKind k) noexcept {
  switch (k) {
    case ErrorKind::none: return "none";
    case ErrorKind::config: return "config";
    case ErrorKind::timed_out: return "timed_out";
    case ErrorKind::queue_full: return "queue_full";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::broker: return "broker";
    case ErrorKind::fatal: return "fatal";
    case ErrorKind::purged: return "purged";
    case ErrorKind::closed: return "closed";
  }
  return "unknown";
}

}  // namespace pimap::kafka
