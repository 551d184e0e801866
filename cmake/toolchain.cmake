# Included from the top-level CMakeLists.txt: compiler launcher and sanitizers,
# both chosen by options (CMakePresets.json turns them on per preset).

if(EXCAP_USE_CCACHE AND NOT DEFINED CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(EXCAP_CCACHE ccache)
  if(EXCAP_CCACHE)
    # A normal variable: it seeds each target's CXX_COMPILER_LAUNCHER, the cache stays the user's.
    set(CMAKE_CXX_COMPILER_LAUNCHER ${EXCAP_CCACHE})
  else()
    message(STATUS "ccache not found: compiling without it")
  endif()
endif()

if(EXCAP_SANITIZE)
  # Frame pointers keep the sanitizers' stack traces readable at -O1.
  add_compile_options(-fsanitize=${EXCAP_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${EXCAP_SANITIZE})
endif()
