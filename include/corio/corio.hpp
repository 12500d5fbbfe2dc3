#pragma once

/// corio: asyncio for C++20. This header includes the whole public API.

#include "corio/core/as_completed.hpp"
#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/gather.hpp"
#include "corio/core/outcome.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/shield.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_group.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/core/wait.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/loop_handle.hpp"
#include "corio/runtime/loop_options.hpp"
#include "corio/runtime/run.hpp"
#include "corio/runtime/trace.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"
