#include "sim/plot.h"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "sim/report.h"

extern char** environ;

namespace prefcpu::sim {

namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string plot_script(const Report& report, const std::string& png_path) {
  std::string s;
  s += "set terminal pngcairo size 1100,1000 font \"sans,10\"\n";
  s += "set output " + quoted(png_path) + "\n";
  s += "set datafile separator \",\"\n";
  if (report.results.size() < 2) return s;
  // Time series of the last case: its baseline and its governor run.
  const CaseResult& base = report.results[report.results.size() - 2];
  const CaseResult& with = report.results.back();
  std::size_t vms = with.vms.size();
  std::string series;  // one $ts_<run>_<vm> datablock per VM and run
  for (int run = 0; run < 2; ++run) {
    const CaseResult& result = run == 0 ? base : with;
    for (std::size_t v = 0; v < vms; ++v) {
      series += fmt::format("$ts_{}_{} << EOD\n", run, v);
      for (const auto& row : result.timeseries) {
        if (row.vm != v) continue;
        series += fmt::format("{:.3f},{:.2f},{}\n", static_cast<double>(row.t_ns) / 1e9,
                              row.steal_pct, row.preferred);
      }
      series += "EOD\n";
    }
  }
  s += series;
  s += "$change << EOD\n";
  for (std::size_t i = 0; i + 1 < report.results.size(); i += 2) {
    for (std::size_t v = 0; v < vms; ++v) {
      const VmResult& b = report.results[i].vms[v];
      const VmResult& w = report.results[i + 1].vms[v];
      s += fmt::format("{},{:.2f}\n", quoted(report.results[i].name + " " + b.name),
                       improvement_pct(b.metric, b.value, w.value));
    }
  }
  s += "EOD\n";
  s += "set multiplot layout 3,1 title " +
       quoted(fmt::format("prefcpu-sim {} (seed {}): none vs {} -- time series of case \"{}\"",
                          report.scenario, report.seed, report.governor, with.name)) +
       "\n";
  s += "set grid\nset key outside right\nset xlabel \"t (s)\"\n";
  auto lines = [&](int column, const char* ylabel) {
    s += fmt::format("set ylabel \"{}\"\nplot ", ylabel);
    for (std::size_t v = 0; v < vms; ++v) {
      for (int run = 0; run < 2; ++run) {
        s += fmt::format("$ts_{}_{} using 1:{} with steps lw 2 dt {} lc {} title {}", run, v,
                         column, run == 0 ? 2 : 1, v + 1,
                         quoted(with.vms[v].name + (run == 0 ? " none" : " " + report.governor)));
        s += (v + 1 == vms && run == 1) ? "\n" : ", ";
      }
    }
  };
  lines(2, "steal %");
  lines(3, "preferred vCPUs");
  s += "unset xlabel\nset ylabel \"change vs none (%, + is better)\"\n";
  s += "set style fill solid 0.6\nset boxwidth 0.6\nset xtics rotate by -30\nset yrange [*:*]\n";
  s += "plot $change using 0:2:xtic(1) with boxes lc 3 notitle\n";
  s += "unset multiplot\n";
  return s;
}

Status render_plot(const Report& report, const std::string& png_path) {
  char dir_template[] = "/tmp/prefcpu-sim-plot.XXXXXX";
  char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) return make_errno_error(errno, "--plot: cannot create a temporary directory");
  std::string script_path = std::string(dir) + "/plot.gp";
  {
    std::ofstream script(script_path);
    script << plot_script(report, png_path);
    if (!script) {
      return make_errno_error(errno, "--plot: cannot write {}", script_path);
    }
  }
  std::string program = "gnuplot";
  char* argv[] = {program.data(), script_path.data(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ);
  int status = 0;
  if (rc == 0) ::waitpid(pid, &status, 0);
  (void)std::remove(script_path.c_str());
  ::rmdir(dir);
  if (rc != 0) {
    return make_errno_error(rc,
                            "--plot {}: cannot run gnuplot: expected gnuplot on PATH "
                            "(Debian package gnuplot-nox)",
                            png_path);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return make_error("--plot {}: gnuplot failed (exit status {})", png_path,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return {};
}

}  // namespace prefcpu::sim
