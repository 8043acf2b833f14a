# venus_shader(<target> <glsl file> <variable>): compiles GLSL to SPIR-V at build time into a header
# defining `const uint32_t <variable>[]` (glslangValidator from Debian's glslang-tools).
find_program(GLSLANG_VALIDATOR glslangValidator REQUIRED)
function(venus_shader target src var)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/shaders/${var}.h)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/shaders
    COMMAND ${GLSLANG_VALIDATOR} -V --vn ${var} -o ${out} ${CMAKE_CURRENT_SOURCE_DIR}/${src}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src} VERBATIM)
  target_sources(${target} PRIVATE ${out})
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/shaders)
endfunction()
