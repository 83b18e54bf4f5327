// prefcpuctl's human views of prefcpud's status (status.json, docs/daemon.md) and history: pure
// functions from the daemon's JSON to text, so tests need no daemon.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace prefcpu {

// `prefcpuctl status` without --json.
std::string format_status(const nlohmann::json& status);
// The IRQ actuator's status (docs/irq.md, status.json "irqs") as indented lines, no JSON.
std::vector<std::string> format_irq_status(const nlohmann::json& irqs);
// `prefcpuctl history` without --json: the daemon's history reply as a table.
std::string format_history(const nlohmann::json& reply);

// A JSON value as prefcpuctl shows it: strings bare, null as "-".
std::string text(const nlohmann::json& value);

}  // namespace prefcpu
