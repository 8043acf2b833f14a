#version 450
// one point at the origin: the cheapest draw a benchmark can record
void main() {
    gl_Position = vec4(0.0, 0.0, 0.0, 1.0);
    gl_PointSize = 1.0;
}
