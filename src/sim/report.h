// The outputs of `prefcpu-sim run`: the side-by-side table shaped like the series' cover letter,
// the --json document, and the --timeseries CSV. All are pure functions of the Report.
#pragma once

#include <string>

#include "sim/run.h"

namespace prefcpu::sim {

std::string format_table(const Report& report);
std::string format_json(const Report& report);
std::string format_timeseries_csv(const Report& report);

// Positive when the governor did better: shorter time_s, more tps or work.
double improvement_pct(const std::string& metric, double baseline, double with_series);

}  // namespace prefcpu::sim
