// Column-major 4x4 float matrices, laid out as GLSL's mat4 expects in a std140 uniform block.
#pragma once

#include <array>
#include <cmath>

namespace vkdemo {

struct Mat4 {
  std::array<float, 16> m{};  // m[column * 4 + row]

  float& at(int row, int column) { return m[column * 4 + row]; }
  float at(int row, int column) const { return m[column * 4 + row]; }

  static Mat4 identity() {
    Mat4 r;
    for (int i = 0; i < 4; ++i) r.at(i, i) = 1.0f;
    return r;
  }

  friend Mat4 operator*(const Mat4& a, const Mat4& b) {
    Mat4 r;
    for (int row = 0; row < 4; ++row) {
      for (int column = 0; column < 4; ++column) {
        float sum = 0.0f;
        for (int k = 0; k < 4; ++k) sum += a.at(row, k) * b.at(k, column);
        r.at(row, column) = sum;
      }
    }
    return r;
  }

  static Mat4 translate(float x, float y, float z) {
    Mat4 r = identity();
    r.at(0, 3) = x;
    r.at(1, 3) = y;
    r.at(2, 3) = z;
    return r;
  }

  static Mat4 rotate_x(float radians) {
    Mat4 r = identity();
    const float c = std::cos(radians), s = std::sin(radians);
    r.at(1, 1) = c;
    r.at(1, 2) = -s;
    r.at(2, 1) = s;
    r.at(2, 2) = c;
    return r;
  }

  static Mat4 rotate_y(float radians) {
    Mat4 r = identity();
    const float c = std::cos(radians), s = std::sin(radians);
    r.at(0, 0) = c;
    r.at(0, 2) = s;
    r.at(2, 0) = -s;
    r.at(2, 2) = c;
    return r;
  }

  // Right-handed view space (camera looks down -Z) to Vulkan clip space: depth in [0, 1] and
  // clip-space Y pointing down, so that view-space +Y ends up at the top of the image.
  static Mat4 perspective(float fovy_radians, float aspect, float near_z, float far_z) {
    Mat4 r;
    const float f = 1.0f / std::tan(fovy_radians / 2.0f);
    r.at(0, 0) = f / aspect;
    r.at(1, 1) = -f;
    r.at(2, 2) = far_z / (near_z - far_z);
    r.at(2, 3) = near_z * far_z / (near_z - far_z);
    r.at(3, 2) = -1.0f;
    return r;
  }
};

}  // namespace vkdemo
