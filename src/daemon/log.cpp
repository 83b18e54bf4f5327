#include "daemon/log.h"

#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace prefcpu {

namespace {

std::string_view level_prefix(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error: ";
    case LogLevel::kWarning:
      return "warning: ";
    default:
      return "";
  }
}

}  // namespace

LogSink Logger::detect_sink() {
  // systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected stderr to (systemd.exec(5)).
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return LogSink::kStderr;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return LogSink::kStderr;
  unsigned long long dev = 0;  // NOLINT(google-runtime-int): sscanf's %llu
  unsigned long long ino = 0;  // NOLINT(google-runtime-int)
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return LogSink::kStderr;
  return dev == st.st_dev && ino == st.st_ino ? LogSink::kJournal : LogSink::kStderr;
}

void Logger::set_sink(LogSink sink) {
  if (sink == LogSink::kSyslog && sink_ != LogSink::kSyslog) {
    ::openlog("prefcpud", LOG_PID | LOG_NDELAY, LOG_DAEMON);
  }
  sink_ = sink;
}

void Logger::log(LogLevel level, std::string_view message) {
  if (level == LogLevel::kDebug && !verbose_) return;
  int priority = static_cast<int>(level);
  switch (sink_) {
    case LogSink::kJournal:
      ::sd_journal_print(priority, "%.*s", static_cast<int>(message.size()), message.data());
      return;
    case LogSink::kSyslog:
      ::syslog(priority, "%.*s", static_cast<int>(message.size()), message.data());
      return;
    case LogSink::kCapture:
      captured_.push_back(std::string(level_prefix(level)) + std::string(message));
      return;
    case LogSink::kStderr:
      break;
  }
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  ::localtime_r(&seconds, &local);
  std::string line = fmt::format("{:02}:{:02}:{:02}.{:03} prefcpud: {}{}\n", local.tm_hour,
                                 local.tm_min, local.tm_sec, millis, level_prefix(level), message);
  (void)std::fwrite(line.data(), 1, line.size(), stderr);
  (void)std::fflush(stderr);
}

}  // namespace prefcpu
