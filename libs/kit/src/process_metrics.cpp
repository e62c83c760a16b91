#include "pimap/kit/process_metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include <prometheus/metric_family.h>

#ifndef PIMAP_VERSION
#define PIMAP_VERSION "unknown"
#endif

namespace pimap::kit {
namespace {

struct ProcStat {
  double cpu_seconds = 0;
  double threads = 0;
  double start_time_seconds = 0;  // Unix time
  double resident_bytes = 0;
};

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string word;
  while (in >> word) {
    if (word == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
  }
  return 0;
}

ProcStat read_proc_self() {
  ProcStat st;
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return st;
  // The command name (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return st;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string tok; rest >> tok;) f.push_back(tok);
  if (f.size() < 22) return st;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  st.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;  // utime, stime (fields 14, 15)
  st.threads = std::stod(f[17]);                                    // field 20
  st.start_time_seconds = boot_time_seconds() + std::stod(f[19]) / ticks;  // field 22
  st.resident_bytes = std::stod(f[21]) * page;                             // field 24
  return st;
}

double open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  double n = 0;
  while (const dirent* e = readdir(dir))
    if (e->d_name[0] != '.') n += 1;
  closedir(dir);
  return n - 1;  // the descriptor opendir itself holds
}

class ProcessCollector : public prometheus::Collectable {
 public:
  explicit ProcessCollector(std::string prefix) : prefix_(std::move(prefix)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    ProcStat st = read_proc_self();
    std::vector<prometheus::MetricFamily> out;
    auto gauge = [&](const char* what, const char* help, double value) {
      prometheus::MetricFamily fam{prefix_ + what, help, prometheus::MetricType::Gauge, {}};
      prometheus::ClientMetric m;
      m.gauge.value = value;
      fam.metric.push_back(std::move(m));
      out.push_back(std::move(fam));
    };
    {
      prometheus::MetricFamily fam{prefix_ + "build_info", "Build of the running binary (value is always 1)",
                                   prometheus::MetricType::Gauge, {}};
      prometheus::ClientMetric m;
      m.label.push_back({"version", PIMAP_VERSION});
      m.gauge.value = 1;
      fam.metric.push_back(std::move(m));
      out.push_back(std::move(fam));
    }
    gauge("process_start_time_seconds", "Start time of the process since the Unix epoch", st.start_time_seconds);
    gauge("process_open_fds", "Open file descriptors", open_fds());
    gauge("process_resident_memory_bytes", "Resident memory size", st.resident_bytes);
    gauge("process_threads", "OS threads in the process", st.threads);
    {
      prometheus::MetricFamily fam{prefix_ + "process_cpu_seconds_total", "User and system CPU time",
                                   prometheus::MetricType::Counter, {}};
      prometheus::ClientMetric m;
      m.counter.value = st.cpu_seconds;
      fam.metric.push_back(std::move(m));
      out.push_back(std::move(fam));
    }
    return out;
  }

 private:
  std::string prefix_;
};

}  // namespace

void add_process_metrics(Metrics& metrics) {
  metrics.add_collectable(std::make_shared<ProcessCollector>(metrics.prefix()));
}

}  // namespace pimap::kit
