# cmake/install.cmake: `cmake --install` (and `make install`) for the daemon, its plugin runner
# and what plugin authors build against. Included at the end of the top-level CMakeLists.txt,
# after the targets exist. Layout, for a prefix P (/usr/local by default, /usr for packages):
#
#   P/bin/cronhost                                  the command, static (answers next --expr and
#                                                    --version, execs the host binary for the rest)
#   P/libexec/cronhost/cronhost                      the host binary: the daemon and CLI
#   P/libexec/cronhost/cronhost-plugin-runner        started by the host for isolated runs
#   P/include/cronhost/plugin.h, plugin.hpp          the plugin ABI
#   P/lib/cmake/cronhost/                            find_package(cronhost): cronhost::plugin_api,
#                                                    cronhost_add_plugin()
#   P/lib/pkgconfig/cronhost-plugin.pc               the same for a plain compiler command line
#   P/share/cronhost/cronhost_plugin_exports.map     the linker version script of a plugin
#   P/share/cronhost/schemas/                        job and config JSON schemas
#   P/share/cronhost/examples/                       example jobs, scripts and plugin sources;
#                                                    bundled/: the repository's jobs.d, scripts
#                                                    and cronhost.yaml
# The other parts (manuals, service) add their own rules in their own files.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CRONHOST_LIBEXEC_INSTALL_DIR ${CMAKE_INSTALL_LIBEXECDIR}/cronhost)
set(CRONHOST_DATA_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/cronhost)
# The CMake package and the .pc file hold headers and a linker script, nothing built for one
# architecture: lib/, not Debian's lib/<multiarch>, which both find_package and pkg-config
# search for any prefix.
set(CRONHOST_CMAKE_INSTALL_DIR lib/cmake/cronhost)
set(CRONHOST_PKGCONFIG_INSTALL_DIR lib/pkgconfig)

# bin/cronhost finds the host binary relative to its own folder, so a tree installed with any
# prefix (or DESTDIR, or moved whole) works: bin/ -> ../libexec/cronhost by default. The host
# finds its runner beside itself.
file(RELATIVE_PATH CRONHOST_LIBEXEC_FROM_BINDIR ${CMAKE_INSTALL_FULL_BINDIR}
     ${CMAKE_INSTALL_FULL_LIBEXECDIR}/cronhost)
set_property(SOURCE host/cli/host_exec.cpp APPEND PROPERTY COMPILE_DEFINITIONS
             CRONHOST_LIBEXEC_FROM_BINDIR="${CRONHOST_LIBEXEC_FROM_BINDIR}")

install(TARGETS cronhost RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS cronhost-host RUNTIME DESTINATION ${CRONHOST_LIBEXEC_INSTALL_DIR})
install(TARGETS cronhost-plugin-runner RUNTIME DESTINATION ${CRONHOST_LIBEXEC_INSTALL_DIR})

# Plugin authors: the headers, the interface target, the function and the version script.
install(FILES plugins/include/cronhost/plugin.h plugins/include/cronhost/plugin.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cronhost)
install(FILES plugins/cronhost_plugin_exports.map DESTINATION ${CRONHOST_DATA_INSTALL_DIR})
install(TARGETS cronhost_plugin_api EXPORT cronhostTargets)
install(EXPORT cronhostTargets NAMESPACE cronhost:: DESTINATION ${CRONHOST_CMAKE_INSTALL_DIR})
set(CRONHOST_EXPORTS_MAP_INSTALLED ${CRONHOST_DATA_INSTALL_DIR}/cronhost_plugin_exports.map)
configure_package_config_file(cmake/cronhostConfig.cmake.in ${CMAKE_BINARY_DIR}/cronhostConfig.cmake
  INSTALL_DESTINATION ${CRONHOST_CMAKE_INSTALL_DIR}
  PATH_VARS CRONHOST_EXPORTS_MAP_INSTALLED)
# The package holds no binary, so any architecture may use it; the ABI's compatibility is
# checked by the host at load time (CRONHOST_ABI_MAJOR), not here.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cronhostConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_BINARY_DIR}/cronhostConfig.cmake ${CMAKE_BINARY_DIR}/cronhostConfigVersion.cmake
        cmake/cronhostPlugin.cmake DESTINATION ${CRONHOST_CMAKE_INSTALL_DIR})
# The .pc file names absolute paths under the prefix given at install time (`cmake --install
# --prefix P` may differ from the configured one), so the prefix goes in then: configure time
# fills in the rest and leaves @CMAKE_INSTALL_PREFIX@ for install time. (DESTDIR stays out.)
set(CRONHOST_PC_PREFIX "@CMAKE_INSTALL_PREFIX@")
configure_file(cmake/cronhost-plugin.pc.in ${CMAKE_BINARY_DIR}/cronhost-plugin.pc.in @ONLY)
install(CODE "configure_file(\"${CMAKE_BINARY_DIR}/cronhost-plugin.pc.in\" \"${CMAKE_BINARY_DIR}/cronhost-plugin.pc\" @ONLY)")
install(FILES ${CMAKE_BINARY_DIR}/cronhost-plugin.pc DESTINATION ${CRONHOST_PKGCONFIG_INSTALL_DIR})

# Schemas: for editors (yaml-language-server) and tools; the daemon has them compiled in, as
# it has the migrations, which are not installed.
install(FILES ${SCHEMA_FILES} DESTINATION ${CRONHOST_DATA_INSTALL_DIR}/schemas)

# Examples. examples/plugins is a link into the build folder: the plugin sources go there
# instead (each buildable on its own against the installed package), so that the example
# jobs' plugins/lib*.so paths are where an author's build of them can put its output.
install(DIRECTORY examples/jobs.d examples/scripts DESTINATION ${CRONHOST_DATA_INSTALL_DIR}/examples)
install(DIRECTORY plugins/examples/ DESTINATION ${CRONHOST_DATA_INSTALL_DIR}/examples/plugins)
install(DIRECTORY jobs.d scripts DESTINATION ${CRONHOST_DATA_INSTALL_DIR}/examples/bundled)
install(FILES cronhost.yaml DESTINATION ${CRONHOST_DATA_INSTALL_DIR}/examples/bundled)
