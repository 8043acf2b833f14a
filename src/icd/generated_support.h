// What the generated entry points (build/gen/icd/commands_gen_*.cpp) build on.
#pragma once

#include "icd/command_buffer.h"
#include "icd/connection.h"
#include "icd/icd_gen.h"
#include "icd/objects.h"
#include "protocol/guest_codec.h"

namespace venus::icd {

// The codec's names, as every command file (generated or hand-written) uses them.
using protocol::Decoder;
using protocol::Encoder;
using protocol::guest_object_id;
using protocol::WireCaps;
namespace guest = protocol::guest;

}  // namespace venus::icd
