#pragma once
// Which owned watched users appeared since the previous listing (issue #5, bug 2).
//
// A user's first reconcile only records a baseline (there is nothing to compare with), so a flag
// change whose reconcile is that first run is lost, except for the newest transaction. Users become
// watched when a device registers, long before the periodic reconcile; asking for a full reconcile as
// soon as a listing shows a new watched user gives them a baseline before their device can miss
// anything. The first listing only learns the set: at start-up and on shard gain every watched user
// is reconciled anyway.

#include <set>
#include <string>
#include <vector>

namespace pimap::store_watcher {

class NewlyWatched {
 public:
  // The users of `owned` that were not in the previous call's set (none on the first call).
  std::vector<std::string> update(const std::vector<std::string>& owned) {
    std::set<std::string> now(owned.begin(), owned.end());
    std::vector<std::string> fresh;
    if (primed_)
      for (const auto& u : now)
        if (!known_.contains(u)) fresh.push_back(u);
    known_ = std::move(now);
    primed_ = true;
    return fresh;
  }

 private:
  std::set<std::string> known_;
  bool primed_ = false;
};

}  // namespace pimap::store_watcher
