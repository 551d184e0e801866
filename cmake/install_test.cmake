# ctest's `install` test:
#   cmake -D BUILD_DIR=... -D CONFIG=... -D VERSION=... -D EXPECT=excap,excap-studio -P install_test.cmake
# Installs the build into a fresh temporary prefix and runs the installed
# `excap` from a folder outside the source and build trees.

string(RANDOM LENGTH 8 _tag)
if(DEFINED ENV{TMPDIR} AND IS_DIRECTORY "$ENV{TMPDIR}")
  set(_tmp "$ENV{TMPDIR}/excap-install-test-${_tag}")
else()
  set(_tmp "/tmp/excap-install-test-${_tag}")
endif()
set(_prefix "${_tmp}/prefix")
set(_cwd "${_tmp}/elsewhere")
file(MAKE_DIRECTORY "${_cwd}")

function(_excap_run what)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${_cwd}" RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    file(REMOVE_RECURSE "${_tmp}")
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(_out "${out}" PARENT_SCOPE)
endfunction()

_excap_run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${_prefix}"
           --config "${CONFIG}")
_excap_run("excap --version" "${_prefix}/bin/excap" --version)
if(NOT _out MATCHES "excap ${VERSION}")
  file(REMOVE_RECURSE "${_tmp}")
  message(FATAL_ERROR "installed excap --version printed '${_out}', expected 'excap ${VERSION}'")
endif()
_excap_run("excap init" "${_prefix}/bin/excap" init "${_tmp}/project")
if(NOT EXISTS "${_tmp}/project/project.json")
  file(REMOVE_RECURSE "${_tmp}")
  message(FATAL_ERROR "installed excap init wrote no ${_tmp}/project/project.json")
endif()
string(REPLACE "," ";" _expected "${EXPECT}")
foreach(_program ${_expected})
  if(NOT EXISTS "${_prefix}/bin/${_program}")
    file(REMOVE_RECURSE "${_tmp}")
    message(FATAL_ERROR "cmake --install did not install bin/${_program}")
  endif()
endforeach()
file(REMOVE_RECURSE "${_tmp}")
message(STATUS "installed excap ${VERSION} runs outside the source and build trees")
