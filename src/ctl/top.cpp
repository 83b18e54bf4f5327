// prefcpuctl top: render_top() every interval in the terminal's alternate screen, until q,
// Ctrl-C or SIGTERM; the terminal is put back as it was in every case. --once prints one frame.
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <iostream>

#include "ctl/commands.h"
#include "ctl/top_view.h"

namespace prefcpu {

namespace {

volatile std::sig_atomic_t g_top_stop = 0;  // NOLINT: written by the signal handler

extern "C" void stop_top(int /*signal*/) {
  g_top_stop = 1;
}

std::size_t terminal_width() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) return size.ws_col;
  return 80;
}

void write_all(std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Keys without Enter or echo, the alternate screen, no cursor; all undone by the destructor.
class Terminal {
 public:
  Terminal() {
    if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C is SIGINT
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      restore_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
    }
    write_all("\x1b[?1049h\x1b[?25l");
  }
  ~Terminal() {
    write_all("\x1b[?25h\x1b[?1049l");
    if (restore_) (void)::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

 private:
  termios saved_{};
  bool restore_ = false;
};

struct Frame {
  nlohmann::json status;
  nlohmann::json history;
};

Result<Frame> fetch(const std::string& state_dir) {
  auto status = ask_daemon(state_dir, protocol::StatusRequest{});
  if (!status) return status.error();
  auto history = ask_daemon(state_dir, protocol::HistoryRequest{0});
  if (!history) return history.error();
  const auto& object = *status;
  return Frame{object.is_object() && object.contains("status") ? object["status"] : object,
               std::move(*history)};
}

// Waits up to timeout_ms for a key; true when it asks to quit (q, Q or a Ctrl-C byte).
bool quit_key(int timeout_ms) {
  pollfd fd{STDIN_FILENO, POLLIN, 0};
  if (::poll(&fd, 1, timeout_ms) <= 0) return false;  // timeout, or EINTR from a signal
  char keys[32];
  ssize_t n = ::read(STDIN_FILENO, keys, sizeof keys);
  if (n == 0) return true;  // stdin closed: nobody is watching
  for (ssize_t i = 0; i < n; ++i) {
    if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == '\x03') return true;
  }
  return false;
}

// Every period of the daemon, but at least every 5 s so the ages move.
int refresh_ms(const nlohmann::json& status) {
  std::int64_t interval_ms = 1000;
  if (status.is_object() && status.contains("knobs") && status["knobs"].is_object()) {
    const auto& value = status["knobs"].value("interval_ms", nlohmann::json());
    if (value.is_number_integer()) interval_ms = value.get<std::int64_t>();
  }
  return static_cast<int>(std::clamp<std::int64_t>(interval_ms, 100, 5000));
}

int run_top(const std::string& state_dir, bool once) {
  if (once) {
    auto frame = fetch(state_dir);
    if (!frame) {
      std::cerr << "prefcpuctl: " << frame.error().message << "\n";
      return kExitFailure;
    }
    std::cout << render_top(frame->status, frame->history, {terminal_width(), false});
    return 0;
  }
  if (::isatty(STDIN_FILENO) == 0 || ::isatty(STDOUT_FILENO) == 0) {
    std::cerr << "prefcpuctl top: needs a terminal on stdin and stdout; use --once in scripts\n";
    return kExitBadInput;
  }
  struct sigaction action {};
  action.sa_handler = stop_top;  // no SA_RESTART: poll() returns at once
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal, &action, nullptr);
  std::string error;
  {
    Terminal terminal;
    while (g_top_stop == 0) {
      auto frame = fetch(state_dir);
      if (!frame) {
        error = frame.error().message;
        break;
      }
      write_all("\x1b[H\x1b[2J" +
                render_top(frame->status, frame->history, {terminal_width(), true}) +
                "\n(q quits)");
      if (quit_key(refresh_ms(frame->status))) break;
    }
  }
  if (!error.empty()) {
    std::cerr << "prefcpuctl: " << error << "\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace

void add_top_command(CLI::App& app, std::string* state_dir, int* exit_code) {
  struct Args {
    std::string* state_dir = nullptr;  // main's: --state-dir before or after the subcommand
    bool once = false;
  };
  auto args = std::make_shared<Args>();
  args->state_dir = state_dir;
  auto* top = app.add_subcommand(
      "top", "Live view: preferred CPUs, steal over the history, the last decisions (q quits)");
  top->add_option("--state-dir", *args->state_dir, "prefcpud's state directory")
      ->capture_default_str();
  top->add_flag("--once", args->once, "Print one frame without terminal control, then exit");
  top->callback([args, exit_code] { *exit_code = run_top(*args->state_dir, args->once); });
}

}  // namespace prefcpu
