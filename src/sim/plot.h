// --plot: steal and preferred over time, and the metric change per case, rendered by gnuplot.
#pragma once

#include <string>

#include "core/result.h"
#include "sim/run.h"

namespace prefcpu::sim {

// The gnuplot script and its inline data for `report`, writing a PNG to png_path.
std::string plot_script(const Report& report, const std::string& png_path);

// Runs gnuplot on plot_script(); fails with the reason if gnuplot is missing or fails.
Status render_plot(const Report& report, const std::string& png_path);

}  // namespace prefcpu::sim
