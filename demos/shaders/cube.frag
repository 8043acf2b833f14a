#version 450
// venus-cube: checkerboard texel times the face's tint (no lighting, so that every covered
// pixel is exactly one texel colour times one tint).
layout(set = 0, binding = 1) uniform sampler2D checker;

layout(location = 0) in vec2 in_uv;
layout(location = 1) in vec3 in_tint;
layout(location = 0) out vec4 out_color;

void main() {
  out_color = vec4(texture(checker, in_uv).rgb * in_tint, 1.0);
}
