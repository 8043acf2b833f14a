// Support for the generated fast-path test table (build/gen/testfast): host functions that
// record the arguments they are called with, and the per-command cases.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "protocol/host_codec.h"
#include "renderer/object_table.h"
#include "renderer/objects.h"
#include "renderer/vk_functions.h"
#include "testgen/testgen.h"

namespace venus::testgen {

// Every call a capturing host function received: the command id, then each argument's bytes.
inline std::vector<uint8_t>& captured_calls() {
    static std::vector<uint8_t> calls;
    return calls;
}

template <class Pfn, uint32_t kId>
struct Capture;

template <class R, class... A, uint32_t kId>
struct Capture<R(VKAPI_PTR*)(A...), kId> {
    static R VKAPI_CALL call(A... args) {
        auto& out = captured_calls();
        auto put = [&](const auto& v) {
            const size_t at = out.size();
            out.resize(at + sizeof v);
            std::memcpy(out.data() + at, &v, sizeof v);
        };
        put(kId);
        (put(args), ...);
        if constexpr (!std::is_void_v<R>) return R{};
    }
};

struct FastCase {
    uint32_t id;
    const char* name;
    // a random valid request (flags 0), from the generated codec tests
    void (*request)(Harness&, std::vector<uint8_t>&);
    // points the command's host function at Capture<>
    void (*install)(renderer::DeviceFns&);
    // what the general path does: decode the arguments (after the header), call the function
    void (*reference)(protocol::Decoder&, const renderer::DeviceFns&);
};
extern const FastCase kFastCases[];
extern const size_t kFastCaseCount;

// A renderer object table for ids made by the generated tests, whose upper 32 bits name the
// object type: objects are made on first sight (by the general decoder, which runs first), all
// owned by one device. With `unknown_ff`, ids ending in 0xff stay unknown (as in the decoder
// fuzzer's corpus).
class LazyObjects : public protocol::HandleResolver {
public:
    explicit LazyObjects(bool unknown_ff = false) : unknown_ff_(unknown_ff) {
        auto dev = std::make_unique<renderer::DeviceObject>();
        dev->id = 1;
        dev->type = VK_OBJECT_TYPE_DEVICE;
        dev->handle = 0xd000;
        device = static_cast<renderer::DeviceObject*>(table.insert(std::move(dev)));
        device->device = device;
    }
    const protocol::ObjectRef* find(uint64_t id) override {
        if (id == 0 || (unknown_ff_ && (id & 0xff) == 0xff) || (id >> 32) > 0x7fffffffu) return nullptr;
        if (!table.get_any(id)) add(id, static_cast<VkObjectType>(id >> 32));
        return table.find(id);
    }
    uint64_t id_of(VkObjectType type, uint64_t handle) override { return table.id_of(type, handle); }
    renderer::Object* add(uint64_t id, VkObjectType type) {
        auto o = std::make_unique<renderer::Object>();
        o->id = id;
        o->type = type;
        o->handle = id ^ 0x5a5a000000000000ull;
        o->device = device;
        return table.insert(std::move(o));
    }

    renderer::ObjectTable table;
    renderer::DeviceObject* device = nullptr;

private:
    bool unknown_ff_;
};

}  // namespace venus::testgen
