#version 450
// venus-triangle: one triangle from gl_VertexIndex (no vertex buffer): red at the top,
// green at the bottom right, blue at the bottom left.
layout(location = 0) out vec3 out_color;

const vec2 positions[3] = vec2[](vec2(0.0, -0.75), vec2(0.75, 0.75), vec2(-0.75, 0.75));
const vec3 colors[3] = vec3[](vec3(1.0, 0.0, 0.0), vec3(0.0, 1.0, 0.0), vec3(0.0, 0.0, 1.0));

void main() {
  gl_Position = vec4(positions[gl_VertexIndex], 0.0, 1.0);
  out_color = colors[gl_VertexIndex];
}
