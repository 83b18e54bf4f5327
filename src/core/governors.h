// Factories of the built-in governors; the registry in governor.cpp lists them by name.
#pragma once

#include <memory>

#include "core/governor.h"

namespace prefcpu {

std::unique_ptr<Governor> make_none_governor();
std::unique_ptr<Governor> make_kernel_governor();
std::unique_ptr<Governor> make_kernel_v2_governor();
std::unique_ptr<Governor> make_ewma_governor();
std::unique_ptr<Governor> make_target_governor();

}  // namespace prefcpu
