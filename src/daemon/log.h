// prefcpud's log: stderr in the foreground, the systemd journal under systemd, syslog once
// daemonized. Levels are syslog priorities, so the journal filters them as usual.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

namespace prefcpu {

enum class LogLevel { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

enum class LogSink { kStderr, kJournal, kSyslog, kCapture };

class Logger {
 public:
  explicit Logger(LogSink sink = LogSink::kStderr) : sink_(sink) {}

  // kJournal when stderr is the journal stream systemd gave us (JOURNAL_STREAM), else kStderr.
  static LogSink detect_sink();

  void set_sink(LogSink sink);
  // Verbose shows kDebug: one line per sample.
  void set_verbose(bool verbose) { verbose_ = verbose; }
  bool verbose() const { return verbose_; }

  void log(LogLevel level, std::string_view message);

  template <typename... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::kError, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void warning(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::kWarning, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::kInfo, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) {
    if (verbose_) log(LogLevel::kDebug, fmt::format(format, std::forward<Args>(args)...));
  }

  // kCapture keeps lines here instead of printing them (tests).
  const std::vector<std::string>& captured() const { return captured_; }

 private:
  LogSink sink_;
  bool verbose_ = false;
  std::vector<std::string> captured_;
};

}  // namespace prefcpu
