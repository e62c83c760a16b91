#pragma once
// Topic administration the services need at start-up (e.g. the store-watcher's control topic).

#include <pimap/kafka/error.hpp>
#include <pimap/kafka/options.hpp>

#include <chrono>
#include <string>

namespace pimap::kafka {

// Creates `topic` if it does not exist. An existing topic is fine (its partition count is kept).
// Returns the topic's partition count as the cluster reports it.
Result<int> ensure_topic(const CommonOptions& options, const std::string& topic, int partitions,
                         int replication_factor, std::chrono::milliseconds timeout);

}  // namespace pimap::kafka
