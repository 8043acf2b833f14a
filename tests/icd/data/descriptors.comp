#version 450
// dst[i] = src[i] * mul + add + offset: inputs through three kinds of descriptor and a push constant
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer Src { uint v[]; } src;
layout(set = 0, binding = 1) writeonly buffer Dst { uint v[]; } dst;
layout(set = 0, binding = 2) uniform Params { uint mul; uint add; } params;
layout(push_constant) uniform Push { uint offset; } push;
void main() {
    uint i = gl_GlobalInvocationID.x;
    dst.v[i] = src.v[i] * params.mul + params.add + push.offset;
}
