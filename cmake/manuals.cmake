# Manual pages, shell completions and the LuaLS meta file.
# The pages and completions are written by the built cronhost (`cronhost manual PAGE`, hidden)
# from what already defines each: the CLI11 App (cronhost(1), bash, zsh), the compiled-in JSON
# schemas (the keys of the (5) pages), README.md's cron and DST sections (cronhost-jobs(5)) and
# schemas/lua/cronhost.lua (cronhost-lua(7)). So no text is kept twice, and the generator is a
# few files of the cronhost target: a page change rebuilds nothing but them.
include(GNUInstallDirs)

set(CRONHOST_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(CRONHOST_COMPLETIONS_DIR ${CMAKE_BINARY_DIR}/completions)
set(CRONHOST_LUA_META ${CMAKE_SOURCE_DIR}/schemas/lua/cronhost.lua)

# One generated file: OUTPUT written by `cronhost manual PAGE`, rerun when cronhost or one of
# the extra inputs changes.
function(cronhost_manual page output)
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CRONHOST_MAN_DIR} ${CRONHOST_COMPLETIONS_DIR}
    COMMAND $<TARGET_FILE:cronhost> manual ${page} --source ${CMAKE_SOURCE_DIR} --output ${output}
    DEPENDS cronhost ${ARGN}
    COMMENT "Generating ${page}"
    VERBATIM)
endfunction()

cronhost_manual(cronhost.1 ${CRONHOST_MAN_DIR}/cronhost.1)
cronhost_manual(cronhost.yaml.5 ${CRONHOST_MAN_DIR}/cronhost.yaml.5)
cronhost_manual(cronhost-jobs.5 ${CRONHOST_MAN_DIR}/cronhost-jobs.5 ${CMAKE_SOURCE_DIR}/README.md)
cronhost_manual(cronhost-lua.7 ${CRONHOST_MAN_DIR}/cronhost-lua.7 ${CRONHOST_LUA_META})
cronhost_manual(bash ${CRONHOST_COMPLETIONS_DIR}/cronhost)
cronhost_manual(zsh ${CRONHOST_COMPLETIONS_DIR}/_cronhost)

add_custom_target(manuals ALL DEPENDS
  ${CRONHOST_MAN_DIR}/cronhost.1 ${CRONHOST_MAN_DIR}/cronhost.yaml.5 ${CRONHOST_MAN_DIR}/cronhost-jobs.5
  ${CRONHOST_MAN_DIR}/cronhost-lua.7 ${CRONHOST_COMPLETIONS_DIR}/cronhost ${CRONHOST_COMPLETIONS_DIR}/_cronhost)

install(FILES ${CRONHOST_MAN_DIR}/cronhost.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CRONHOST_MAN_DIR}/cronhost.yaml.5 ${CRONHOST_MAN_DIR}/cronhost-jobs.5
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${CRONHOST_MAN_DIR}/cronhost-lua.7 DESTINATION ${CMAKE_INSTALL_MANDIR}/man7)
install(FILES ${CRONHOST_COMPLETIONS_DIR}/cronhost DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${CRONHOST_COMPLETIONS_DIR}/_cronhost DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${CRONHOST_LUA_META} DESTINATION ${CMAKE_INSTALL_DATADIR}/cronhost/schemas/lua)
