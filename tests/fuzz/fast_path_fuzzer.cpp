// libFuzzer target, differential: the renderer's fast path against the general decoder on the
// same bytes. For every plain recording command of the input, the general path (decode the
// arguments, call the host function) runs first; then the fast path must either make exactly
// the same call and take exactly the same bytes, or — when the general path refused the command
// or a reply was asked for — decline it and call nothing. Then FastPath::run_all on the whole
// input must make the same calls as the general path for every command up to the first one the
// fast path declines, take exactly their bytes and count them. Any other outcome aborts.
//
// Objects are made on first sight with the type named by the id's upper 32 bits (as in the seed
// corpus); ids ending in 0xff are unknown.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "fast_path_support.h"
#include "protocol/codec.h"
#include "renderer/fast_path.h"
#include "renderer/object_table.h"

namespace {

using namespace venus;

const testgen::FastCase* case_of(uint32_t id) {
    static const std::vector<const testgen::FastCase*> by_id = [] {
        std::vector<const testgen::FastCase*> v;
        for (size_t i = 0; i < testgen::kFastCaseCount; ++i) {
            const auto& c = testgen::kFastCases[i];
            if (v.size() <= c.id) v.resize(c.id + 1);
            v[c.id] = &c;
        }
        return v;
    }();
    return id < by_id.size() ? by_id[id] : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    testgen::LazyObjects objects(/*unknown_ff=*/true);
    for (size_t i = 0; i < testgen::kFastCaseCount; ++i) testgen::kFastCases[i].install(objects.device->fn);
    renderer::CachedResolver cached(objects.table);
    renderer::FastPath fast(cached);
    protocol::TempArena arena(size_t{1} << 20);
    auto& captured = testgen::captured_calls();
    const uint8_t* const input = data;
    const size_t input_size = size;
    // what run_all must do: the leading commands the fast path takes, as the general path runs them
    std::vector<uint8_t> run_expected;
    size_t run_bytes = 0;
    uint64_t run_commands = 0;
    bool run_over = false;
    while (size >= 8) {
        uint32_t header[2];
        std::memcpy(header, data, 8);
        const testgen::FastCase* fc = case_of(header[0]);
        if (!fc) {
            if (fast.run(data, size) != 0) std::abort();  // not a plain recording command
            break;
        }
        captured.clear();
        protocol::Decoder d(data + 8, size - 8, &arena, &objects);
        bool valid = true;
        try {
            fc->reference(d, objects.device->fn);
        } catch (const protocol::WireError&) {
            valid = false;
        }
        const size_t consumed = 8 + d.offset();
        const std::vector<uint8_t> expected = captured;
        captured.clear();
        const size_t used = fast.run(data, size);
        if (valid && header[1] == 0) {
            if (used != consumed || captured != expected) std::abort();
            if (!run_over) {
                run_expected.insert(run_expected.end(), expected.begin(), expected.end());
                run_bytes += consumed;
                ++run_commands;
            }
        } else if (used != 0 || !captured.empty()) {
            std::abort();
        } else {
            run_over = true;
        }
        if (!valid) break;
        data += consumed;
        size -= consumed;
    }
    captured.clear();
    uint64_t ran = 0;
    if (fast.run_all(input, input_size, ran) != run_bytes || ran != run_commands || captured != run_expected)
        std::abort();
    return 0;
}
