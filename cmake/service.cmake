# Running as a service: the build's commit (cronhost --version), sd_notify (libsystemd), and
# the systemd unit, sysusers file and logrotate snippet installed. Included from the top-level
# CMakeLists.txt after the cronhost target.
include(GNUInstallDirs)

# The commit goes into one generated file only: a new commit relinks the host without
# recompiling the core. CRONHOST_COMMIT set by hand (a package build from a tarball) wins;
# empty, git's HEAD is read at each configure, and CMake configures again when HEAD moves.
set(CRONHOST_COMMIT "" CACHE STRING "The commit cronhost --version names (empty: git rev-parse --short=12 HEAD)")
set(CRONHOST_COMMIT_TEXT "${CRONHOST_COMMIT}")
if(CRONHOST_COMMIT_TEXT STREQUAL "")
  set(CRONHOST_COMMIT_TEXT "unknown")
  find_package(Git QUIET)
  if(GIT_FOUND AND EXISTS ${CMAKE_SOURCE_DIR}/.git)  # a folder, or a worktree's file
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                    OUTPUT_VARIABLE head RESULT_VARIABLE failed OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(NOT failed)
      set(CRONHOST_COMMIT_TEXT ${head})
      # HEAD, the branch it names and packed-refs: a commit or a checkout changes one of them.
      execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --git-path HEAD --git-path packed-refs
                      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE git_files OUTPUT_STRIP_TRAILING_WHITESPACE)
      execute_process(COMMAND ${GIT_EXECUTABLE} symbolic-ref -q HEAD WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                      OUTPUT_VARIABLE branch OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(branch)
        execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --git-path ${branch} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                        OUTPUT_VARIABLE branch_file OUTPUT_STRIP_TRAILING_WHITESPACE)
        string(APPEND git_files "\n${branch_file}")
      endif()
      string(REPLACE "\n" ";" git_files "${git_files}")
      foreach(file ${git_files})
        get_filename_component(file ${file} ABSOLUTE BASE_DIR ${CMAKE_SOURCE_DIR})
        if(EXISTS ${file})
          set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
        endif()
      endforeach()
    endif()
  endif()
endif()
configure_file(host/cli/build_info.cpp.in ${CMAKE_BINARY_DIR}/generated/build_info.cpp @ONLY)
target_sources(cronhost_cli_base PRIVATE ${CMAKE_BINARY_DIR}/generated/build_info.cpp)

# sd_notify: only the host binary links libsystemd (the core and the plugin runner do not).
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
target_sources(cronhost-host PRIVATE host/util/service_notify.cpp)
target_link_libraries(cronhost-host PRIVATE PkgConfig::SYSTEMD)

# The unit names the installed binary, so it follows the prefix.
set(CRONHOST_BINDIR_FULL ${CMAKE_INSTALL_FULL_BINDIR})
configure_file(packaging/systemd/cronhost.service.in ${CMAKE_BINARY_DIR}/packaging/cronhost.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/cronhost.service DESTINATION lib/systemd/system)
install(FILES packaging/systemd/cronhost.sysusers DESTINATION lib/sysusers.d
        RENAME cronhost.conf)
install(FILES packaging/logrotate/cronhost DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/cronhost RENAME logrotate)
# A package (prefix /usr) also puts the snippet where logrotate reads it; a /usr/local install
# leaves /etc to the operator (copy share/doc/cronhost/logrotate).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  install(FILES packaging/logrotate/cronhost DESTINATION /etc/logrotate.d)
endif()
