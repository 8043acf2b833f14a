"""Emits the host-side dispatch table: one handler per command id that decodes the
arguments, calls the matching method of a Dispatcher and encodes the reply when asked."""

from __future__ import annotations

from cpp import BANNER, Writer
from model import Protocol


def deferrable(cmd) -> bool:
    """Commands that may run later, on another thread, after the decoder has moved on: the
    recording commands (vkCmd*) return nothing and touch only their command buffer, so a
    renderer can decode a run of them ahead of the thread that calls the driver."""
    return cmd.name.startswith('vkCmd') and cmd.ret == 'void'


def outputs() -> list[str]:
    return ['protocol/host_dispatch.h', 'protocol/host_dispatch.cpp']


def emit(p: Protocol) -> dict:
    h = Writer()
    h(BANNER)
    h('#pragma once')
    h('#include "protocol/host_codec.h"')
    h()
    h('namespace venus::protocol::host {')
    h()
    h('// Receives every decoded command. The default of each method rejects the command;')
    h('// the renderer overrides them (its generated RendererDispatcher forwards to the driver).')
    h('class Dispatcher {')
    h('public:')
    h('    virtual ~Dispatcher() = default;')
    h('    // Where the reply of a command with VK_COMMAND_GENERATE_REPLY_BIT_EXT goes;')
    h('    // nullptr means the guest asked for a reply without a reply stream (an error).')
    h('    virtual Encoder* reply_encoder() = 0;')
    h('    // Called for commands this dispatcher does not implement; must throw.')
    h('    [[noreturn]] virtual void unsupported(uint32_t id);')
    for cmd in p.commands:
        h(f'    virtual void {cmd.name}({cmd.name}_args& a);')
    h('};')
    h()
    h('// Accepts every command and does nothing: for benchmarks, fuzzers and decoder tests.')
    h('class NullDispatcher : public Dispatcher {')
    h('public:')
    h('    explicit NullDispatcher(Encoder* reply = nullptr) : reply_(reply) {}')
    h('    Encoder* reply_encoder() override { return reply_; }')
    for cmd in p.commands:
        h(f'    void {cmd.name}({cmd.name}_args&) override {{}}')
    h('private:')
    h('    Encoder* reply_;')
    h('};')
    h()
    h('// A command decoded now and run later: exec(dispatcher, args), args in the decoder\'s arena.')
    h('using DeferredExec = void (*)(Dispatcher&, void* args);')
    h('struct DeferredCommand {')
    h('    DeferredExec exec = nullptr;')
    h('    void* args = nullptr;')
    h('};')
    h('// If the next command of `d` is deferrable (a vkCmd* without a reply request), decodes it')
    h('// into the decoder\'s arena and returns how to run it; otherwise returns {} and leaves `d`')
    h('// where it was. The Dispatcher method of a deferrable command may run on another thread,')
    h('// in stream order, and uses nothing but its arguments and the objects they name.')
    h('DeferredCommand decode_deferred(Decoder& d);')
    h('bool is_deferrable(uint32_t id);')
    h()
    h('// Decodes and dispatches one command from `d` (the stream may hold more).')
    h('// Throws WireError for malformed input and for ids the protocol does not define.')
    h('void dispatch_command(Decoder& d, Dispatcher& dispatcher);')
    h()
    h('}  // namespace venus::protocol::host')

    c = Writer()
    c(BANNER)
    c('#include "protocol/host_dispatch.h"')
    c('#include <fmt/format.h>')
    c()
    c('namespace venus::protocol::host {')
    c()
    c('void Dispatcher::unsupported(uint32_t id) {')
    c('    const char* name = command_name(id);')
    c('    throw WireError(id, 0, fmt::format("command {} ({}) is not supported by this renderer", id, name ? name : "?"));')
    c('}')
    c()
    for cmd in p.commands:
        c(f'void Dispatcher::{cmd.name}({cmd.name}_args&) {{ unsupported({p.cmd_id[cmd.name]}); }}')
    c()
    c('namespace {')
    c()
    c('using Handler = void (*)(Decoder&, Dispatcher&, bool reply);')
    c()
    c('[[noreturn]] void no_reply_stream(Decoder& d) {')
    c('    d.fail("a reply was requested but no reply stream is set");')
    c('}')
    c()
    for cmd in p.commands:
        c(f'void handle_{cmd.name}(Decoder& d, Dispatcher& dispatcher, bool reply) {{')
        c(f'    {cmd.name}_args a{{}};')
        c(f'    decode_{cmd.name}(d, a);')
        c(f'    dispatcher.{cmd.name}(a);')
        c('    if (reply) {')
        c('        Encoder* e = dispatcher.reply_encoder();')
        c('        if (!e) no_reply_stream(d);')
        c(f'        encode_{cmd.name}_reply(*e, a);')
        c('    }')
        c('}')
        c()
    c('using Deferrer = DeferredCommand (*)(Decoder&);')
    c()
    for cmd in p.commands:
        if not deferrable(cmd):
            continue
        c(f'void exec_{cmd.name}(Dispatcher& dispatcher, void* a) {{')
        c(f'    dispatcher.{cmd.name}(*static_cast<{cmd.name}_args*>(a));')
        c('}')
        c(f'DeferredCommand defer_{cmd.name}(Decoder& d) {{')
        c(f'    auto* a = new (d.alloc<{cmd.name}_args>(1, 0)) {cmd.name}_args{{}};')
        c(f'    decode_{cmd.name}(d, *a);')
        c(f'    return {{exec_{cmd.name}, a}};')
        c('}')
        c()
    c('struct Table {')
    c('    Handler handlers[kCommandTableSize] = {};')
    c('    Deferrer deferrers[kCommandTableSize] = {};')
    c('    constexpr Table() {')
    for cmd in p.commands:
        c(f'        handlers[{p.cmd_id[cmd.name]}] = handle_{cmd.name};')
        if deferrable(cmd):
            c(f'        deferrers[{p.cmd_id[cmd.name]}] = defer_{cmd.name};')
    c('    }')
    c('};')
    c()
    c('constexpr Table kTable;')
    c()
    c('}  // namespace')
    c()
    c('void dispatch_command(Decoder& d, Dispatcher& dispatcher) {')
    c('    const uint32_t id = d.u32();')
    c('    d.set_command(id);')
    c('    const uint32_t flags = d.u32();')
    c('    const Handler h = id < kCommandTableSize ? kTable.handlers[id] : nullptr;')
    c('    if (!h) {')
    c('        const char* name = command_name(id);')
    c('        d.fail(name ? fmt::format("command {} cannot be executed by a renderer", name)')
    c('                    : fmt::format("unknown command id {}", id));')
    c('    }')
    c('    if (flags & ~VK_COMMAND_GENERATE_REPLY_BIT_EXT) d.fail(fmt::format("unknown command flags 0x{:x}", flags));')
    c('    h(d, dispatcher, (flags & VK_COMMAND_GENERATE_REPLY_BIT_EXT) != 0);')
    c('}')
    c()
    c('DeferredCommand decode_deferred(Decoder& d) {')
    c('    if (d.remaining() < 8) return {};')
    c('    const uint64_t header = d.peek_u64();')
    c('    const uint32_t id = static_cast<uint32_t>(header);')
    c('    if (id >= kCommandTableSize || (header >> 32) != 0 || !kTable.deferrers[id]) return {};')
    c('    d.u64();')
    c('    d.set_command(id);')
    c('    return kTable.deferrers[id](d);')
    c('}')
    c()
    c('bool is_deferrable(uint32_t id) { return id < kCommandTableSize && kTable.deferrers[id]; }')
    c()
    c('}  // namespace venus::protocol::host')
    return {'protocol/host_dispatch.h': h.text(), 'protocol/host_dispatch.cpp': c.text()}
