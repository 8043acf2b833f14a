#version 450
// out[i] = in[i] * 3 + i, for the raw-protocol compute test
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer In { uint v[]; } src;
layout(std430, binding = 1) writeonly buffer Out { uint v[]; } dst;
layout(push_constant) uniform P { uint count; } pc;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < pc.count) dst.v[i] = src.v[i] * 3u + i;
}
