# Included from the top-level CMakeLists.txt: what `cmake --install` puts
# where (GNUInstallDirs), and the Debian package CPack builds from it.

# LibTorch outside the system paths (a CUDA wheel) stays findable once installed.
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS excap RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET excap-model)
  install(TARGETS excap-model RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
if(TARGET excap-studio)
  install(TARGETS excap-studio RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME excap)
set(CPACK_PACKAGE_VENDOR "ExCap developers")
set(CPACK_PACKAGE_CONTACT "ExCap developers")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "ExCap developers")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Runtime dependencies come from the binaries' own links (dpkg-shlibdeps), not a hand list.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_INSTALL_DIRECTORY excap)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
