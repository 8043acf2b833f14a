#include "protocol/codec.h"

#include <fmt/format.h>

#include <algorithm>

namespace venus::protocol {

WireCaps WireCaps::everything() {
    WireCaps caps;
    caps.api_version = kVkXmlVersion;
    caps.extension_mask[0] = 1;
    for (size_t i = 0; i < kExtensionCount; ++i) {
        const uint32_t n = kExtensions[i].number;
        caps.extension_mask[n / 32] |= 1u << (n % 32);
    }
    return caps;
}

// ------------------------------------------------------------------------------ TempArena

void* TempArena::allocate(size_t bytes) {
    bytes = (bytes + 15) & ~size_t{15};
    if (bytes > cap_ - std::min(used_, cap_)) return nullptr;
    while (current_ < blocks_.size()) {
        Block& b = blocks_[current_];
        if (b.size - b.used >= bytes) {
            void* p = b.data.get() + b.used;
            b.used += bytes;
            used_ += bytes;
            std::memset(p, 0, bytes);
            return p;
        }
        ++current_;
    }
    const size_t last = blocks_.empty() ? 0 : blocks_.back().size;
    const size_t size = std::max({bytes, size_t{64} << 10, last * 2});
    Block b;
    b.data.reset(new (std::nothrow) std::byte[size]);
    if (!b.data) return nullptr;
    b.size = size;
    b.used = bytes;
    used_ += bytes;
    void* p = b.data.get();
    std::memset(p, 0, bytes);
    blocks_.push_back(std::move(b));
    current_ = blocks_.size() - 1;
    return p;
}

void TempArena::reset() {
    if (used_ == 0) return;
    // Keep the first block (the steady state); give back blocks grown for a large command.
    if (blocks_.size() > 1) {
        size_t keep = 0;
        for (size_t i = 1; i < blocks_.size(); ++i)
            if (blocks_[i].size > blocks_[keep].size) keep = i;
        Block largest = std::move(blocks_[keep]);
        blocks_.clear();
        if (largest.size <= (size_t{16} << 20)) blocks_.push_back(std::move(largest));
    }
    for (Block& b : blocks_) b.used = 0;
    current_ = 0;
    used_ = 0;
}

// ------------------------------------------------------------------------------ Encoder

void Encoder::overflow(size_t need) const {
    throw WireError(UINT32_MAX, size(),
                    fmt::format("encoder overflow: {} bytes needed, {} left of {}", need, remaining(),
                                static_cast<size_t>(end_ - begin_)));
}

const WireCaps& Encoder::everything_caps() {
    static const WireCaps caps = WireCaps::everything();
    return caps;
}

// ------------------------------------------------------------------------------ Decoder

namespace {

std::string command_label(uint32_t id) {
    if (id == UINT32_MAX) return "stream";
    if (const char* name = command_name(id)) return fmt::format("command {} ({})", id, name);
    return fmt::format("command {}", id);
}

}  // namespace

void Decoder::fail_at(size_t at, const std::string& what) const {
    throw WireError(command_, at, fmt::format("{} at byte {}: {}", command_label(command_), at, what));
}

void Decoder::fail_stype(int32_t stype, const char* what) const {
    const char* name = structure_type_name(stype);
    fail(fmt::format("sType {} ({}) {}", stype, name ? name : "unknown", what));
}

void Decoder::short_read(size_t need, const char* what) const {
    fail(fmt::format("expected {} ({} bytes) but only {} bytes remain", what, need, remaining()));
}

void Decoder::fail_value(const char* expected, uint64_t got) const {
    fail(fmt::format("expected {}, got {}", expected, got));
}

void Decoder::fail_count(uint64_t got, uint64_t expected, const char* what) const {
    fail(fmt::format("{}: array of {} elements where its count says {}", what, got, expected));
}

void Decoder::expect_command(uint32_t id) {
    const uint32_t got = u32();
    if (got != id) {
        command_ = id;
        fail(fmt::format("reply is for command {}, expected {}", got, id));
    }
    command_ = id;
}

VkStructureType Decoder::expect_stype(VkStructureType expected) {
    const size_t at = offset();
    const int32_t got = i32();
    if (got != static_cast<int32_t>(expected)) {
        const char* want = structure_type_name(expected);
        const char* name = structure_type_name(got);
        fail_at(at, fmt::format("sType {} ({}) where {} was expected", got, name ? name : "unknown",
                                want ? want : "?"));
    }
    return expected;
}

void Decoder::expect_array_size(uint64_t expected, const char* what) {
    const uint64_t got = array_size();
    if (got != expected) fail(fmt::format("{}: fixed array of {} elements sent as {}", what, expected, got));
}

const char* Decoder::string() {
    const uint64_t n = array_size();
    if (n == 0) return nullptr;
    if (n > remaining()) short_read(static_cast<size_t>(n), "string bytes");
    char* s = alloc<char>(n, 1);
    bytes(s, static_cast<size_t>(n));
    s[n - 1] = '\0';
    return s;
}

void* Decoder::alloc_bytes(uint64_t count, size_t elem_size, size_t min_wire_bytes) {
    if (min_wire_bytes && count > remaining() / min_wire_bytes)
        fail(fmt::format("array of {} elements cannot fit in the {} bytes that remain", count, remaining()));
    if (!arena_) fail("no scratch memory for decoding");
    if (count > arena_->cap() / std::max<size_t>(elem_size, 1))
        fail(fmt::format("array of {} elements of {} bytes exceeds the per-command limit of {} bytes", count,
                         elem_size, arena_->cap()));
    void* p = arena_->allocate(static_cast<size_t>(count) * elem_size);
    if (!p)
        fail(fmt::format("per-command scratch limit of {} bytes reached ({} bytes in use)", arena_->cap(),
                         arena_->used()));
    return p;
}

const ObjectRef* Decoder::object(VkObjectType type) {
    const uint64_t id = u64();
    if (id == 0) return nullptr;
    const ObjectRef* ref = resolver_ ? resolver_->find(id) : nullptr;
    if (!ref) fail(fmt::format("unknown {} id {}", object_type_name(type), id));
    if (ref->type != type)
        fail(fmt::format("object {} is a {}, expected a {}", id, object_type_name(ref->type), object_type_name(type)));
    return ref;
}

}  // namespace venus::protocol
