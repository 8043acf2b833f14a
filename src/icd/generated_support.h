// What the generated entry points (build/gen/icd/commands_gen_*.cpp) build on.
#pragma once

#include "icd/command_buffer.h"
#include "icd/connection.h"
#include "icd/icd_gen.h"
#include "icd/objects.h"
#include "protocol/guest_codec.h"
