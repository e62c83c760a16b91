#include "ownership.hpp"

namespace pimap::store_watcher {

std::int32_t shard_of(std::string_view user, int partitions) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : user) {
    h ^= c;
    h *= 16777619u;
  }
  return partitions <= 0 ? 0 : static_cast<std::int32_t>(h % static_cast<std::uint32_t>(partitions));
}

void Ownership::assign(const std::vector<std::int32_t>& shards) {
  std::lock_guard lock(mu_);
  owned_.insert(shards.begin(), shards.end());
  ++generation_;
}

void Ownership::revoke(const std::vector<std::int32_t>& shards) {
  std::lock_guard lock(mu_);
  for (auto s : shards) owned_.erase(s);
  ++generation_;
}

bool Ownership::owns(std::string_view user) const { return owns_shard(shard_of(user, partitions_)); }

bool Ownership::owns_shard(std::int32_t shard) const {
  std::lock_guard lock(mu_);
  return owned_.count(shard) != 0;
}

std::vector<std::int32_t> Ownership::owned() const {
  std::lock_guard lock(mu_);
  return {owned_.begin(), owned_.end()};
}

std::uint64_t Ownership::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

}  // namespace pimap::store_watcher
