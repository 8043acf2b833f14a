#version 450
// venus-compute: out[i] = mix32(in[i], i), a hash-like integer mix with a data-dependent number
// of rounds. The CPU reference in venus_compute.cpp (and tests/apps/check_compute.py) must match.
layout(local_size_x = 64) in;

layout(push_constant) uniform Params {
  uint count;
} params;

layout(std430, set = 0, binding = 0) readonly buffer Input { uint values[]; } src;
layout(std430, set = 0, binding = 1) writeonly buffer Output { uint values[]; } dst;

uint mix32(uint x, uint index) {
  uint h = x ^ (index * 0x9e3779b9u);
  uint rounds = 3u + (x & 3u);
  for (uint r = 0u; r < rounds; ++r) {
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    h = (h << 5) | (h >> 27);
    h += r * 0x632be5abu;
  }
  return h;
}

void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i >= params.count) return;
  dst.values[i] = mix32(src.values[i], i);
}
