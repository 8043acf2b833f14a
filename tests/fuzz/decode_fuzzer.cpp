// libFuzzer target: arbitrary bytes as a Venus command stream into the host decoder and
// dispatch table (what a hostile guest controls). Every non-zero id names an object whose type
// is the id's upper 32 bits (as in the seed corpus, written by tests/fuzz/seed_corpus.cpp), so
// the fuzzer starts deep inside every command's arguments.
#include <cstddef>
#include <cstdint>

#include "protocol/host_dispatch.h"

namespace {

class AnyObject : public venus::protocol::HandleResolver {
public:
    const venus::protocol::ObjectRef* find(uint64_t id) override {
        // some ids are unknown; types beyond INT32_MAX cannot be held by VkObjectType
        if (id == 0 || (id & 0xff) == 0xff || (id >> 32) > 0x7fffffffu) return nullptr;
        ref_ = {id, id, static_cast<VkObjectType>(id >> 32)};
        return &ref_;
    }
    uint64_t id_of(VkObjectType, uint64_t handle) override { return handle; }

private:
    venus::protocol::ObjectRef ref_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static uint8_t reply_buf[1 << 16];
    venus::protocol::TempArena arena(size_t{64} << 20);
    AnyObject objects;
    venus::protocol::Encoder reply(reply_buf, sizeof(reply_buf), nullptr, &objects);
    venus::protocol::host::NullDispatcher null(&reply);
    venus::protocol::Decoder d(data, size, &arena, &objects);
    // both generations' decoders (they differ in WA1): chosen by a bit of the input's length
    d.set_wire_format((size & 4) ? 0 : 1);
    try {
        while (!d.at_end()) {
            arena.reset();
            reply.reset(reply_buf, sizeof(reply_buf));
            venus::protocol::host::dispatch_command(d, null);
        }
    } catch (const venus::protocol::WireError&) {
        // the expected outcome for almost every input
    }
    return 0;
}
