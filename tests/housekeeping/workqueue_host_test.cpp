// The workqueue actuator on this machine's kernel, as root: the unbound workqueues' cpumask is
// narrowed, put back by restore(), and recovered from the journal after a SIGKILLed writer. A
// guard puts the original back at the end of each test, on a failed assertion, and on SIGINT,
// SIGTERM, SIGABRT or SIGSEGV.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/text.h"
#include "linux/housekeeping/workqueue_actuator.h"
#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

const std::filesystem::path kPath = workqueue_cpumask_path("/sys");

// The original, prepared before any change so that the handler only makes async-signal-safe
// calls.
char g_original[512] = {};

void put_back() {
  int fd = ::open(kPath.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return;
  (void)!::write(fd, g_original, std::strlen(g_original));
  ::close(fd);
}

void on_signal(int signal) {
  put_back();
  (void)::signal(signal, SIG_DFL);
  (void)::raise(signal);
}

std::string read_mask() {
  auto text = testing::real_fs().read(kPath);
  return text ? std::string(trim(*text)) : std::string();
}

class WorkqueueOnHost : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to write " << kPath;
    if (!std::filesystem::exists(kPath)) GTEST_SKIP() << kPath << " not on this kernel";
    original_ = read_mask();
    ASSERT_LT(original_.size(), sizeof g_original);
    std::strncpy(g_original, original_.c_str(), sizeof g_original - 1);
    for (int signal : {SIGINT, SIGTERM, SIGABRT, SIGSEGV}) (void)::signal(signal, on_signal);
    auto online = testing::real_fs().read("/sys/devices/system/cpu/online");
    ASSERT_TRUE(online);
    online_ = *parse_cpulist(trim(*online));
    auto mask = parse_cpumask_hex(original_);
    ASSERT_TRUE(mask) << original_;
    original_mask_ = *mask;
    CpuSet usable = original_mask_ & online_;
    if (usable.count() < 2) GTEST_SKIP() << "the unbound cpumask " << original_ << " has < 2 CPUs";
    preferred_ = CpuSet{*usable.begin()};
  }
  void TearDown() override {
    if (original_.empty()) return;
    if (read_mask() != original_) {
      put_back();
      ADD_FAILURE() << kPath << " was left changed; put back " << original_;
    }
    for (int signal : {SIGINT, SIGTERM, SIGABRT, SIGSEGV}) (void)::signal(signal, SIG_DFL);
  }

  std::unique_ptr<Actuator> make(Journal& journal) {
    WorkqueueOptions options;
    options.cpumask = kPath;
    return make_workqueue_actuator(testing::real_fs(), journal, std::move(options));
  }

  testing::FixtureTree tree_;
  std::string original_;
  CpuSet original_mask_;
  CpuSet online_;
  CpuSet preferred_;
};

TEST_F(WorkqueueOnHost, ShrinkThenRestore) {
  Journal journal(testing::real_fs(), tree_.path("journal.json"));
  auto actuator = make(journal);
  ASSERT_TRUE(actuator->apply(preferred_, online_));
  EXPECT_EQ(*parse_cpumask_hex(read_mask()), preferred_) << "the kernel took original ∩ preferred";
  EXPECT_EQ(actuator->status()["state"], "following");
  ASSERT_TRUE(actuator->apply(online_, online_)) << "grow";
  EXPECT_EQ(read_mask(), original_);
  ASSERT_TRUE(actuator->apply(preferred_, online_));
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(read_mask(), original_);
  auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->has_value() && (**loaded).contains("workqueues"))
      << "nothing left to restore: the section is dropped";
}

TEST_F(WorkqueueOnHost, SigkilledWriterIsRecoveredFromTheJournal) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    Journal journal(testing::real_fs(), tree_.path("journal.json"));
    auto actuator = make(journal);
    char ok = actuator->apply(preferred_, online_) ? '1' : '0';
    (void)!::write(ready[1], &ok, 1);
    ::pause();  // killed with SIGKILL: no restore
    ::_exit(1);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_EQ(ok, '1');
  ASSERT_EQ(*parse_cpumask_hex(read_mask()), preferred_) << "SIGKILL restored nothing";

  auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(loaded && loaded->has_value());
  Journal journal(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(journal.record("workqueues", (**loaded)["workqueues"]));
  auto actuator = make(journal);
  ASSERT_TRUE(actuator->recover((**loaded)["workqueues"]));
  EXPECT_EQ(read_mask(), original_);
}

}  // namespace
}  // namespace prefcpu
