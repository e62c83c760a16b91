#pragma once
// Which watched users this replica is responsible for. Users hash onto the partitions of a small
// control topic; the replicas form one Kafka consumer group on it, so Kafka's group protocol decides
// who owns which shard and moves a dead replica's shards to the others after session.timeout.ms.
// No membership bookkeeping of our own. (docs/store-watcher.md)

#include <cstdint>
#include <mutex>
#include <set>
#include <string_view>
#include <vector>

namespace pimap::store_watcher {

// FNV-1a 32 of the user name modulo `partitions`: stable across replicas, builds and restarts.
std::int32_t shard_of(std::string_view user, int partitions);

class Ownership {
 public:
  explicit Ownership(int partitions) : partitions_(partitions) {}

  int partitions() const { return partitions_; }
  void assign(const std::vector<std::int32_t>& shards);  // adds
  void revoke(const std::vector<std::int32_t>& shards);  // removes
  bool owns(std::string_view user) const;
  bool owns_shard(std::int32_t shard) const;
  std::vector<std::int32_t> owned() const;
  // Changes with every assign/revoke: a loop that saw generation g and now sees another re-scans.
  std::uint64_t generation() const;

 private:
  const int partitions_;
  mutable std::mutex mu_;
  std::set<std::int32_t> owned_;
  std::uint64_t generation_ = 0;
};

}  // namespace pimap::store_watcher
