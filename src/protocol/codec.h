// The Venus codec runtime: the encoder and decoder that generated code writes and reads
// through (venus-protocol.md §4). Everything read from the other side is bounds-checked; a
// malformed stream raises WireError naming the command, the byte offset and what was expected.
#pragma once

#include <vulkan/vulkan.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "protocol/venus_defs.h"

namespace venus::protocol {

inline constexpr size_t pad4(size_t n) { return (n + 3) & ~size_t{3}; }

// What the renderer on the other side can decode (from its capset, §3). The guest uses it to
// leave out pNext structures the renderer would reject.
struct WireCaps {
    uint32_t api_version = 0;          // the renderer's vk_xml_version
    uint32_t extension_mask[32] = {};  // bit N: extension number N is known; bit 0: mask valid
    uint32_t wire_format = 1;          // the renderer's capset wire_format_version

    bool has_api_version(uint32_t major, uint32_t minor) const {
        return api_version >= VK_MAKE_API_VERSION(0, major, minor, 0);
    }
    bool has_extension(uint32_t number) const {
        if (!(extension_mask[0] & 1u)) return true;  // old renderers: everything is known
        return number < 1024 && (extension_mask[number / 32] >> (number % 32)) & 1u;
    }
    // A renderer that knows everything this build knows.
    static WireCaps everything();
};

// A decoding or encoding failure. `what()` is a complete sentence for the log.
class WireError : public std::runtime_error {
public:
    WireError(uint32_t command, size_t offset, const std::string& message)
        : std::runtime_error(message), command_(command), offset_(offset) {}
    uint32_t command() const { return command_; }
    size_t offset() const { return offset_; }

private:
    uint32_t command_;
    size_t offset_;
};

// Per-command scratch memory for decoded arguments. Reset after every command; capped so that a
// hostile count cannot make the host allocate without bound (default 1 GiB, §5.11).
class TempArena {
public:
    static constexpr size_t kDefaultCap = size_t{1} << 30;
    explicit TempArena(size_t cap = kDefaultCap) : cap_(cap) {}
    TempArena(const TempArena&) = delete;
    TempArena& operator=(const TempArena&) = delete;

    // Zero-filled, 16-byte aligned; nullptr when the cap would be exceeded.
    void* allocate(size_t bytes);
    void reset();
    size_t used() const { return used_; }
    size_t cap() const { return cap_; }
    void set_cap(size_t cap) { cap_ = cap; }

private:
    struct Block {
        std::unique_ptr<std::byte[]> data;
        size_t size = 0;
        size_t used = 0;
    };
    std::vector<Block> blocks_;
    size_t current_ = 0;
    size_t used_ = 0;
    size_t cap_;
};

// An object as the codec sees it: the other side's id and this side's handle.
struct ObjectRef {
    uint64_t id = 0;
    uint64_t handle = 0;
    VkObjectType type = VK_OBJECT_TYPE_UNKNOWN;
};

// Maps object ids of the wire to handles of this side (host: the renderer's object table;
// guest: the driver's dispatchable objects) and back for replies.
class HandleResolver {
public:
    virtual ~HandleResolver() = default;
    virtual const ObjectRef* find(uint64_t id) = 0;                     // nullptr if unknown
    virtual uint64_t id_of(VkObjectType type, uint64_t handle) = 0;     // 0 if unknown
};

// Every dispatchable object of a guest driver begins with these two words (the loader's
// dispatch pointer, then the Venus object id); non-dispatchable handles are the id itself.
struct GuestDispatchable {
    void* loader_data;
    uint64_t id;
};

template <class H>
inline uint64_t guest_object_id(H h) {
    return h ? reinterpret_cast<const GuestDispatchable*>(h)->id : 0;
}

template <class H>
inline H to_handle(uint64_t value) {
    return reinterpret_cast<H>(static_cast<uintptr_t>(value));
}

// Writes a command stream. The caller reserves the exact size first (the generated sizeof_*
// functions); writing past the end is a programming error and throws.
class Encoder {
public:
    Encoder() = default;
    Encoder(void* data, size_t size, const WireCaps* caps = nullptr, HandleResolver* resolver = nullptr)
        : begin_(static_cast<uint8_t*>(data)), cur_(begin_), end_(begin_ + size), caps_(caps),
          resolver_(resolver) {}

    void reset(void* data, size_t size) {
        begin_ = cur_ = static_cast<uint8_t*>(data);
        end_ = begin_ + size;
    }
    // Moves the write position to `pos` bytes from the start (reply streams, §5.6).
    void seek(size_t pos) {
        if (pos > static_cast<size_t>(end_ - begin_)) overflow(pos);
        cur_ = begin_ + pos;
    }
    void set_caps(const WireCaps* caps) { caps_ = caps; }
    void set_resolver(HandleResolver* resolver) { resolver_ = resolver; }
    const WireCaps& caps() const { return caps_ ? *caps_ : everything_caps(); }

    size_t size() const { return static_cast<size_t>(cur_ - begin_); }
    size_t remaining() const { return static_cast<size_t>(end_ - cur_); }
    uint8_t* data() const { return begin_; }
    uint8_t* cursor() const { return cur_; }

    void u32(uint32_t v) { put(&v, 4); }
    void i32(int32_t v) { put(&v, 4); }
    void f32(float v) { put(&v, 4); }
    void u64(uint64_t v) { put(&v, 8); }
    void i64(int64_t v) { put(&v, 8); }
    void f64(double v) { put(&v, 8); }
    void handle(uint64_t id) { put(&id, 8); }
    void array_size(uint64_t n) { put(&n, 8); }
    bool pointer(const void* p) {
        u64(p ? 1 : 0);
        return p != nullptr;
    }
    // Raw bytes padded with zeros to a multiple of 4.
    void bytes(const void* p, size_t n) {
        const size_t padded = pad4(n);
        if (padded > remaining()) overflow(padded);
        if (n) std::memcpy(cur_, p, n);
        std::memset(cur_ + n, 0, padded - n);
        cur_ += padded;
    }
    // Arrays of 4- or 8-byte scalars (wire layout equals memory layout on little-endian hosts).
    template <class T>
    void raw_array(const T* p, size_t count) {
        static_assert(sizeof(T) == 4 || sizeof(T) == 8);
        if constexpr (std::is_same_v<T, size_t>) {
            for (size_t i = 0; i < count; ++i) u64(p[i]);
        } else {
            put(p, sizeof(T) * count);
        }
    }
    // NUL-terminated string: u64 strlen+1, bytes, padding; NULL is u64 0.
    void string(const char* s) {
        if (!s) {
            u64(0);
            return;
        }
        const size_t n = std::strlen(s) + 1;
        u64(n);
        bytes(s, n);
    }
    uint64_t reply_id(VkObjectType type, uint64_t handle) {
        return (resolver_ && handle) ? resolver_->id_of(type, handle) : 0;
    }

private:
    void put(const void* p, size_t n) {
        if (n > remaining()) overflow(n);
        std::memcpy(cur_, p, n);
        cur_ += n;
    }
    [[noreturn]] void overflow(size_t need) const;
    static const WireCaps& everything_caps();

    uint8_t* begin_ = nullptr;
    uint8_t* cur_ = nullptr;
    uint8_t* end_ = nullptr;
    const WireCaps* caps_ = nullptr;
    HandleResolver* resolver_ = nullptr;
};

// Reads a command stream or a reply. Every read is bounds-checked; every failure throws
// WireError with the command id, the offset and what was expected.
class Decoder {
public:
    Decoder(const void* data, size_t size, TempArena* arena = nullptr, HandleResolver* resolver = nullptr)
        : begin_(static_cast<const uint8_t*>(data)), cur_(begin_), end_(begin_ + size), arena_(arena),
          resolver_(resolver) {}

    size_t offset() const { return static_cast<size_t>(cur_ - begin_); }
    size_t remaining() const { return static_cast<size_t>(end_ - cur_); }
    bool at_end() const { return cur_ >= end_; }
    // The next unread byte, and moving past bytes another reader has consumed.
    const uint8_t* position() const { return cur_; }
    void skip(size_t n) {
        if (n > remaining()) short_read(n, "the rest of a command");
        cur_ += n;
    }
    uint32_t command() const { return command_; }
    void set_command(uint32_t id) { command_ = id; }
    // The guest's wire format (0 or 1): the few places the two differ (WA1) ask.
    uint32_t wire_format() const { return wire_format_; }
    void set_wire_format(uint32_t wire_format) { wire_format_ = wire_format; }
    void set_resolver(HandleResolver* resolver) { resolver_ = resolver; }
    void set_arena(TempArena* arena) { arena_ = arena; }

    uint32_t u32() { return get<uint32_t>(); }
    int32_t i32() { return get<int32_t>(); }
    float f32() { return get<float>(); }
    uint64_t u64() { return get<uint64_t>(); }
    int64_t i64() { return get<int64_t>(); }
    double f64() { return get<double>(); }
    uint64_t peek_u64() const {
        if (remaining() < 8) short_read(8, "a u64");
        uint64_t v;
        std::memcpy(&v, cur_, 8);
        return v;
    }
    uint64_t array_size() { return get<uint64_t>(); }
    // A Vulkan enum value: 0..INT32_MAX (what the C++ enum can represent).
    int32_t enum32() {
        const int32_t v = get<int32_t>();
        if (v < 0) fail_value("an enum value (0 to 0x7fffffff)", static_cast<uint32_t>(v));
        return v;
    }
    bool pointer() {
        const uint64_t v = get<uint64_t>();
        if (v > 1) fail_value("a pointer marker (0 or 1)", v);
        return v == 1;
    }
    // Reads `n` bytes and skips the padding to 4.
    void bytes(void* dst, size_t n) {
        const size_t padded = pad4(n);
        if (padded < n || padded > remaining()) short_read(padded, "array bytes");
        if (n) std::memcpy(dst, cur_, n);
        cur_ += padded;
    }
    template <class T>
    void raw_array(T* dst, size_t count) {
        static_assert(sizeof(T) == 4 || sizeof(T) == 8);
        if (count > remaining() / sizeof(T)) short_read(count * sizeof(T), "array elements");
        if constexpr (std::is_same_v<T, size_t>) {
            for (size_t i = 0; i < count; ++i) dst[i] = static_cast<size_t>(u64());
        } else {
            std::memcpy(static_cast<void*>(dst), cur_, sizeof(T) * count);
            cur_ += sizeof(T) * count;
        }
    }

    // Command header of a reply.
    void expect_command(uint32_t id);
    VkStructureType expect_stype(VkStructureType expected);
    void expect_array_size(uint64_t expected, const char* what);
    // A count read from the wire must equal the count implied by earlier fields.
    void check_count(uint64_t got, uint64_t expected, const char* what) {
        if (got != expected) fail_count(got, expected, what);
    }
    // A NUL-terminated string, copied into the arena; NULL for size 0.
    const char* string();

    // Zero-initialized scratch for `count` elements. `min_wire_bytes` is the smallest number of
    // bytes one element takes on the wire: the remaining input must be able to hold them all.
    template <class T>
    T* alloc(uint64_t count, size_t min_wire_bytes) {
        return static_cast<T*>(alloc_bytes(count, sizeof(T), min_wire_bytes));
    }

    // Host side: an object id resolved to this side's object (nullptr for id 0).
    const ObjectRef* object(VkObjectType type);
    template <class H>
    H handle(VkObjectType type) {
        const ObjectRef* ref = object(type);
        return ref ? to_handle<H>(ref->handle) : VK_NULL_HANDLE;
    }
    // Guest side: a dispatchable object named by a reply.
    template <class H>
    H guest_object(VkObjectType type) {
        const ObjectRef* ref = object(type);
        return ref ? to_handle<H>(ref->handle) : VK_NULL_HANDLE;
    }

    [[noreturn]] void fail(const std::string& what) const { fail_at(offset(), what); }
    // Reports the error at `offset`: the start of the field that is wrong.
    [[noreturn]] void fail_at(size_t offset, const std::string& what) const;
    [[noreturn]] void fail_stype(int32_t stype, const char* what) const;

    // Guards recursion through pNext chains: a hostile chain cannot exhaust the stack.
    static constexpr int kMaxChainDepth = 256;  // every feature struct of vk.xml chained is about 100
    int chain_depth = 0;

private:
    template <class T>
    T get() {
        if (remaining() < sizeof(T)) short_read(sizeof(T), sizeof(T) == 4 ? "a 4-byte value" : "an 8-byte value");
        T v;
        std::memcpy(&v, cur_, sizeof(T));
        cur_ += sizeof(T);
        return v;
    }
    void* alloc_bytes(uint64_t count, size_t elem_size, size_t min_wire_bytes);
    [[noreturn]] void short_read(size_t need, const char* what) const;
    [[noreturn]] void fail_value(const char* expected, uint64_t got) const;
    [[noreturn]] void fail_count(uint64_t got, uint64_t expected, const char* what) const;

    const uint8_t* begin_;
    const uint8_t* cur_;
    const uint8_t* end_;
    TempArena* arena_;
    HandleResolver* resolver_;
    uint32_t command_ = UINT32_MAX;
    uint32_t wire_format_ = 1;
};

class ChainDepthGuard {
public:
    explicit ChainDepthGuard(Decoder& d) : d_(d) {
        if (++d_.chain_depth > Decoder::kMaxChainDepth) d_.fail("pNext chain is deeper than 256 structures");
    }
    ~ChainDepthGuard() { --d_.chain_depth; }
    ChainDepthGuard(const ChainDepthGuard&) = delete;
    ChainDepthGuard& operator=(const ChainDepthGuard&) = delete;

private:
    Decoder& d_;
};

}  // namespace venus::protocol
