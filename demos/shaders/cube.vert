#version 450
// venus-cube: transforms by the MVP matrix from the uniform buffer, passes texture coordinates
// and the per-face tint on.
layout(set = 0, binding = 0) uniform Transform {
  mat4 mvp;
} transform;

layout(location = 0) in vec3 in_position;
layout(location = 1) in vec2 in_uv;
layout(location = 2) in vec3 in_tint;

layout(location = 0) out vec2 out_uv;
layout(location = 1) out vec3 out_tint;

void main() {
  gl_Position = transform.mvp * vec4(in_position, 1.0);
  out_uv = in_uv;
  out_tint = in_tint;
}
