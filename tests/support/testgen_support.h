// Support for the generated codec tests (build/gen/testgen): a deterministic value generator,
// a comparison recorder and the harness that moves one command through guest encode, host
// decode, host reply encode and guest reply decode.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "protocol/codec.h"

namespace venus::testgen {

enum class CmpMode { Full, Skeleton, Reply };

// Resolves ids made by Gen: the object type lives in the upper 32 bits of every id, so a host
// "object table" needs no state; guest dispatchable objects are looked up by id.
class TestResolver : public protocol::HandleResolver {
public:
    explicit TestResolver(bool guest_side) : guest_side_(guest_side) {}
    const protocol::ObjectRef* find(uint64_t id) override;
    uint64_t id_of(VkObjectType type, uint64_t handle) override;
    void add_dispatchable(uint64_t id, protocol::GuestDispatchable* object) { objects_[id] = object; }
    void clear() { objects_.clear(); refs_.clear(); }

private:
    bool guest_side_;
    std::map<uint64_t, protocol::GuestDispatchable*> objects_;
    std::deque<protocol::ObjectRef> refs_;
};

class Gen {
public:
    explicit Gen(uint64_t seed, TestResolver* guest_objects) : rng_(seed), guest_objects_(guest_objects) {}

    uint32_t u32() { return static_cast<uint32_t>(rng_()); }
    int32_t i32() { return static_cast<int32_t>(rng_()); }
    uint64_t u64() { return rng_(); }
    float f32() { return static_cast<float>(static_cast<int32_t>(u32() % 20001) - 10000) / 8.0f; }
    double f64() { return static_cast<double>(static_cast<int64_t>(u64() % 2000001) - 1000000) / 16.0; }
    bool coin() { return rng_() & 1; }
    uint32_t small() { return static_cast<uint32_t>(rng_() % 4); }

    template <class T>
    T* alloc(uint64_t n) {
        const size_t bytes = sizeof(T) * (n ? n : 1);
        pool_.emplace_back(new std::byte[bytes]());
        return reinterpret_cast<T*>(pool_.back().get());
    }
    void fill_bytes(void* p, uint64_t n) {
        auto* b = static_cast<uint8_t*>(p);
        for (uint64_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(rng_());
    }
    void text(char* dst, size_t n) {
        for (size_t i = 0; i + 1 < n; ++i) dst[i] = static_cast<char>('a' + rng_() % 26);
        if (n) dst[n - 1] = 0;
    }
    const char* string() {
        const size_t len = rng_() % 12;
        char* s = alloc<char>(len + 1);
        text(s, len + 1);
        return s;
    }
    template <class H>
    H handle(VkObjectType type) {
        return protocol::to_handle<H>(make_id(type));
    }
    template <class H>
    H dispatchable(VkObjectType type) {
        auto* obj = alloc<protocol::GuestDispatchable>(1);
        obj->id = make_id(type);
        guest_objects_->add_dispatchable(obj->id, obj);
        return reinterpret_cast<H>(obj);
    }
    void reset() { pool_.clear(); }

private:
    uint64_t make_id(VkObjectType type) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(type)) << 32) | ((u32() & 0x7fffffffu) | 1u);
    }
    std::mt19937_64 rng_;
    std::deque<std::unique_ptr<std::byte[]>> pool_;
    TestResolver* guest_objects_;
};

class Checker {
public:
    template <class T>
    void eq(const T& a, const T& b, const char* what) {
        if (!(a == b)) fail(what);
    }
    void bytes(const void* a, const void* b, size_t n, const char* what) {
        if (n && std::memcmp(a, b, n) != 0) fail(what);
    }
    template <class G, class H>
    bool same_presence(const G& g, const H& h, const char* what) {
        const bool gp = static_cast<bool>(g), hp = static_cast<bool>(h);
        if (gp != hp) fail(std::string(what) + (gp ? " (missing on the host)" : " (unexpected on the host)"));
        return gp && hp;
    }
    template <class P>
    void is_null(const P& p, const char* what) {
        if (p) fail(std::string(what) + " must be NULL");
    }
    void str(const char* a, const char* b, const char* what) {
        if (!a || !b) {
            if (a != b) fail(what);
            return;
        }
        if (std::strcmp(a, b) != 0) fail(what);
    }
    void fail(const std::string& what) {
        if (errors_.size() < 20) errors_.push_back(what);
        ++count_;
    }
    const std::vector<std::string>& errors() const { return errors_; }
    size_t count() const { return count_; }
    void clear() {
        errors_.clear();
        count_ = 0;
    }

private:
    std::vector<std::string> errors_;
    size_t count_ = 0;
};

class Harness {
public:
    explicit Harness(uint64_t seed);

    protocol::Encoder& request_encoder(size_t size);
    protocol::Decoder& request_decoder();
    protocol::Encoder& reply_encoder();
    protocol::Decoder& reply_decoder();
    void expect_header(protocol::Decoder& d, uint32_t id);
    void check_request_size(size_t computed, size_t written);
    void check_reply_size(size_t computed, size_t written);
    void check_consumed(const protocol::Decoder& d);

    TestResolver guest_objects{true};
    TestResolver host_objects{false};
    Gen gen;
    Checker checker;
    protocol::WireCaps caps;

private:
    std::vector<uint8_t> request_;
    std::vector<uint8_t> reply_;
    protocol::TempArena arena_;
    std::unique_ptr<protocol::Encoder> enc_;
    std::unique_ptr<protocol::Decoder> dec_;
    std::unique_ptr<protocol::Encoder> reply_enc_;
    std::unique_ptr<protocol::Decoder> reply_dec_;
};

}  // namespace venus::testgen
