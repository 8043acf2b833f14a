// Support for the generated fast-path test table (build/gen/testfast): host functions that
// record the arguments they are called with, and the per-command cases.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "protocol/host_codec.h"
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

}  // namespace venus::testgen
