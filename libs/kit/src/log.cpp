#include "pimap/kit/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>
#include <vector>

#include "json_text.hpp"
#include "pimap/kit/redaction.hpp"

namespace pimap::kit {

struct Logger::Core {
  std::string svc;
  std::atomic<Level> level;
  Sink sink;
  std::mutex write_mutex;
  // Copy-on-write: registering is rare (start-up), reading happens on every line.
  mutable std::mutex secrets_mutex;
  std::shared_ptr<const std::vector<std::string>> secrets;

  std::shared_ptr<const std::vector<std::string>> current_secrets() const {
    std::lock_guard lock(secrets_mutex);
    return secrets;
  }
};

namespace {

bool reserved_key(std::string_view key) { return key == "ts" || key == "level" || key == "svc" || key == "msg"; }

void append_timestamp(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out += '"';
  out.append(buf, n);
  char frac[8];
  auto [end, ec] = std::to_chars(frac, frac + sizeof frac, 1000 + ms % 1000);  // "1xyz": keeps zeros
  (void)ec;
  out += '.';
  out.append(frac + 1, end);
  out += "Z\"";
}

// Replaces every registered secret in `text`; returns a view of either `text` or `storage`.
std::string_view scrub(std::string_view text, const std::vector<std::string>& secrets, std::string& storage) {
  bool copied = false;
  for (const auto& secret : secrets) {
    std::string_view current = copied ? std::string_view(storage) : text;
    if (current.find(secret) == std::string_view::npos) continue;
    std::string replaced;
    std::size_t pos = 0;
    for (;;) {
      auto hit = current.find(secret, pos);
      replaced.append(current.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos));
      if (hit == std::string_view::npos) break;
      replaced += redacted_text;
      pos = hit + secret.size();
    }
    storage = std::move(replaced);
    copied = true;
  }
  return copied ? std::string_view(storage) : text;
}

void append_field(std::string& out, const Field& f, const std::vector<std::string>* secrets) {
  out += ',';
  if (reserved_key(f.key())) {
    std::string renamed = "field_";
    renamed += f.key();
    detail::append_json_string(out, renamed);
  } else {
    detail::append_json_string(out, f.key());
  }
  out += ':';
  if (f.kind() == Field::Kind::redacted || is_sensitive_key(f.key())) {
    detail::append_json_string(out, redacted_text);
    return;
  }
  char buf[64];
  switch (f.kind()) {
    case Field::Kind::text: {
      std::string storage;
      detail::append_json_string(out, secrets ? scrub(f.text(), *secrets, storage) : f.text());
      break;
    }
    case Field::Kind::signed_int: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f.signed_int());
      (void)ec;
      out.append(buf, end);
      break;
    }
    case Field::Kind::unsigned_int: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f.unsigned_int());
      (void)ec;
      out.append(buf, end);
      break;
    }
    case Field::Kind::real: {
      if (!std::isfinite(f.real())) {  // JSON has no NaN/Infinity literals
        detail::append_json_string(out, std::isnan(f.real()) ? "NaN" : (f.real() > 0 ? "Infinity" : "-Infinity"));
        break;
      }
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f.real());
      (void)ec;
      out.append(buf, end);
      break;
    }
    case Field::Kind::boolean:
      out += f.boolean() ? "true" : "false";
      break;
    case Field::Kind::redacted:
      break;
  }
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

std::optional<Level> parse_level(std::string_view text) {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error})
    if (level_name(l) == text) return l;
  return std::nullopt;
}

Logger::Sink Logger::stderr_sink() {
  return [](std::string_view line) {
    while (!line.empty()) {
      ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // nowhere left to report a failure to log
      }
      line.remove_prefix(static_cast<std::size_t>(n));
    }
  };
}

Logger::Logger(std::string svc, Level min_level, Sink sink) : core_(std::make_shared<Core>()) {
  core_->svc = std::move(svc);
  core_->level.store(min_level);
  core_->sink = std::move(sink);
}

bool Logger::enabled(Level level) const noexcept {
  return level >= core_->level.load(std::memory_order_relaxed);
}

void Logger::set_level(Level level) noexcept { core_->level.store(level); }

const std::string& Logger::service() const { return core_->svc; }

void Logger::redact_value(std::string secret) {
  if (secret.size() < 4) return;
  std::lock_guard lock(core_->secrets_mutex);
  auto updated = core_->secrets ? std::make_shared<std::vector<std::string>>(*core_->secrets)
                                : std::make_shared<std::vector<std::string>>();
  updated->push_back(std::move(secret));
  core_->secrets = std::move(updated);
}

Logger Logger::with(Fields fields) const {
  Logger child = *this;
  auto secrets = core_->current_secrets();
  for (const auto& f : fields) append_field(child.bound_, f, secrets.get());
  return child;
}

void Logger::log(Level level, std::string_view msg, Fields fields) const noexcept {
  if (!enabled(level)) return;
  try {
    auto secrets = core_->current_secrets();
    const std::vector<std::string>* scrub_list = secrets.get();

    std::string line;
    line.reserve(128 + msg.size() + bound_.size() + fields.size() * 24);
    line += "{\"ts\":";
    append_timestamp(line);
    line += ",\"level\":\"";
    line += level_name(level);
    line += "\",\"svc\":";
    detail::append_json_string(line, core_->svc);
    line += ",\"msg\":";
    std::string storage;
    detail::append_json_string(line, scrub_list ? scrub(msg, *scrub_list, storage) : msg);
    line += bound_;
    for (const auto& f : fields) append_field(line, f, scrub_list);
    line += "}\n";

    std::lock_guard lock(core_->write_mutex);
    core_->sink(line);
  } catch (...) {
    // Logging must never take the service down (e.g. bad_alloc); the line is lost.
  }
}

}  // namespace pimap::kit
