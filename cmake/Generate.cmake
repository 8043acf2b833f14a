# Runs codegen/venus_gen.py at build time; its outputs live in ${VENUS_GEN_DIR}, never in git.
set(VENUS_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
file(GLOB VENUS_GEN_INPUTS CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/codegen/*.py ${CMAKE_SOURCE_DIR}/protocol/*)
execute_process(
  COMMAND ${VENUS_PYTHON} ${CMAKE_SOURCE_DIR}/codegen/venus_gen.py --protocol ${CMAKE_SOURCE_DIR}/protocol --list
  OUTPUT_VARIABLE _venus_gen_list
  RESULT_VARIABLE _venus_gen_rc)
if(NOT _venus_gen_rc EQUAL 0)
  message(FATAL_ERROR "codegen/venus_gen.py --list failed")
endif()
set(VENUS_GEN_FILES "")
foreach(f IN LISTS _venus_gen_list)
  list(APPEND VENUS_GEN_FILES ${VENUS_GEN_DIR}/${f})
endforeach()
set(VENUS_GEN_STAMP ${VENUS_GEN_DIR}/.stamp)
# The generator rewrites only files whose text changed (so unchanged code is not rebuilt);
# the stamp records that it ran.
add_custom_command(
  OUTPUT ${VENUS_GEN_STAMP}
  BYPRODUCTS ${VENUS_GEN_FILES}
  COMMAND ${VENUS_PYTHON} ${CMAKE_SOURCE_DIR}/codegen/venus_gen.py
          --vk-xml ${VENUS_VK_XML} --protocol ${CMAKE_SOURCE_DIR}/protocol --out ${VENUS_GEN_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${VENUS_GEN_STAMP}
  DEPENDS ${VENUS_GEN_INPUTS} ${VENUS_VK_XML}
  COMMENT "Generating the Venus protocol code from vk.xml"
  VERBATIM)
add_custom_target(venus_generate DEPENDS ${VENUS_GEN_STAMP})

function(venus_gen_files out_var prefix)
  set(result "")
  foreach(f IN LISTS VENUS_GEN_FILES)
    if(f MATCHES "^${VENUS_GEN_DIR}/${prefix}" AND f MATCHES "\\.cpp$")
      list(APPEND result ${f})
    endif()
  endforeach()
  set(${out_var} ${result} PARENT_SCOPE)
endfunction()
