# cronhostPlugin.cmake: cronhost_add_plugin(), the one definition of how a native job plugin
# is built. Included by plugins/CMakeLists.txt (the build tree) and by the installed
# cronhostConfig.cmake (find_package(cronhost)); each sets, before including it:
#   CRONHOST_PLUGIN_EXPORTS_MAP  the linker version script (plugins/cronhost_plugin_exports.map,
#                                installed as <prefix>/share/cronhost/cronhost_plugin_exports.map)
# and provides the target cronhost::plugin_api (the ABI headers, include/cronhost/plugin.h[pp]).

if(NOT CRONHOST_PLUGIN_EXPORTS_MAP OR NOT EXISTS "${CRONHOST_PLUGIN_EXPORTS_MAP}")
  message(FATAL_ERROR "cronhostPlugin.cmake: CRONHOST_PLUGIN_EXPORTS_MAP must name the plugin version script "
                      "(got '${CRONHOST_PLUGIN_EXPORTS_MAP}')")
endif()
# A global property: the function reads it where it is called, in any directory.
set_property(GLOBAL PROPERTY CRONHOST_PLUGIN_EXPORTS_MAP "${CRONHOST_PLUGIN_EXPORTS_MAP}")

# cronhost_add_plugin(<target> <source>... [OUTPUT_DIR <dir>] [WITHOUT_API])
#
# Builds lib<target>.so, a MODULE library the host dlopens, into OUTPUT_DIR (default
# ${CMAKE_BINARY_DIR}/plugins). It exports only the cronhost_* symbols its source marks
# CRONHOST_EXPORT: the entry point. C sources are C99 and C++ sources C++17, the standards
# the ABI headers promise to work with. WITHOUT_API skips linking cronhost::plugin_api, for a
# test that compiles against its own copy of the ABI header.
function(cronhost_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "WITHOUT_API" "OUTPUT_DIR" "")
  set(sources ${arg_UNPARSED_ARGUMENTS})
  if(NOT sources)
    message(FATAL_ERROR "cronhost_add_plugin(${target}): no source files given")
  endif()
  if(NOT arg_OUTPUT_DIR)
    set(arg_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins)
  endif()

  add_library(${target} MODULE ${sources})
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY ${arg_OUTPUT_DIR}
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    C_STANDARD 99
    C_STANDARD_REQUIRED ON
    C_EXTENSIONS OFF
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF)
  get_property(exports_map GLOBAL PROPERTY CRONHOST_PLUGIN_EXPORTS_MAP)
  target_link_options(${target} PRIVATE "LINKER:--version-script=${exports_map}")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${exports_map})
  if(NOT arg_WITHOUT_API)
    target_link_libraries(${target} PRIVATE cronhost::plugin_api)
  endif()
endfunction()
