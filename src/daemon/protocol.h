// The daemon's side of the control protocol lives in src/protocol (shared with prefcpuctl).
#pragma once

#include "protocol/protocol.h"
