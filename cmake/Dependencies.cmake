# Every dependency comes from Debian 12 packages (see README.md / .ci/run).
find_package(Vulkan REQUIRED)
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(VENUS_VK_XML "/usr/share/vulkan/registry/vk.xml" CACHE FILEPATH "Vulkan registry the protocol is generated from")
if(NOT EXISTS "${VENUS_VK_XML}")
  message(FATAL_ERROR "vk.xml not found at ${VENUS_VK_XML}: install libvulkan-dev")
endif()

# Debian's python3-jinja2 is only visible to /usr/bin/python3; prefer it over a pyenv python3.
if(EXISTS /usr/bin/python3)
  set(VENUS_PYTHON /usr/bin/python3)
else()
  set(VENUS_PYTHON ${Python3_EXECUTABLE})
endif()
