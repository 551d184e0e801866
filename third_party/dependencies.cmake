# Included from the top-level CMakeLists.txt.
# CMake glue that turns Debian's system packages into imported targets.
# No foreign source lives here; third_party/include (git-ignored) holds only
# header copies that scripts/vendor_headers.sh takes from this machine's packages.

# Header-only libraries: their CMake package when installed, else their headers in
# EXCAP_VENDOR_INCLUDE, so a machine with a compiler and CMake alone (the GPU one) configures.
set(EXCAP_VENDOR_INCLUDE "${PROJECT_SOURCE_DIR}/third_party/include" CACHE PATH
    "Vendored header-only libraries (scripts/vendor_headers.sh), used when their CMake package is absent")

# excap_header_only(PACKAGE TARGET HEADER [find_package args...]): defines TARGET either way.
function(excap_header_only package target header)
  find_package(${package} ${ARGN} QUIET)
  if(TARGET ${target})
    message(STATUS "${package}: CMake package in ${${package}_DIR}")
    return()
  endif()
  # Only the vendored folder: a stray system copy must not hide a missing carry.
  find_path(EXCAP_${package}_INCLUDE ${header} PATHS "${EXCAP_VENDOR_INCLUDE}" NO_DEFAULT_PATH)
  if(NOT EXCAP_${package}_INCLUDE)
    message(FATAL_ERROR "${package}: neither its CMake package nor ${EXCAP_VENDOR_INCLUDE}/${header}; "
                        "install it, or run scripts/vendor_headers.sh where it is installed and carry "
                        "third_party/include")
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  target_include_directories(${target} SYSTEM INTERFACE "${EXCAP_${package}_INCLUDE}")
  message(STATUS "${package}: vendored headers in ${EXCAP_${package}_INCLUDE}")
endfunction()

excap_header_only(nlohmann_json nlohmann_json::nlohmann_json nlohmann/json.hpp 3.9)
excap_header_only(CLI11 CLI11::CLI11 CLI/CLI.hpp)
find_package(Threads REQUIRED)

# Needed only by what reads media (stage1, triage, exchange) and by the tests, so
# the GPU trainer build (EXCAP_WITH_OPENCV=OFF, no tests) asks for neither.
set(_excap_needs_media_deps OFF)
if(EXCAP_WITH_OPENCV OR EXCAP_BUILD_TESTS)
  set(_excap_needs_media_deps ON)
endif()
# SHA-256 and HMAC (fingerprints, pseudonyms): common/sha256.cpp is built only when found.
find_package(OpenSSL COMPONENTS Crypto QUIET)
if(NOT OpenSSL_FOUND AND _excap_needs_media_deps)
  message(FATAL_ERROR "OpenSSL's libcrypto (Debian: libssl-dev) not found: import, triage and the "
                      "tests hash with it. Install it, or configure only the trainer with "
                      "-DEXCAP_WITH_OPENCV=OFF -DEXCAP_BUILD_TESTS=OFF")
endif()
if(EXCAP_WITH_OPENCV)
  # Reading CVAT zip exports (exchange/).
  find_package(LibArchive QUIET)
  if(NOT LibArchive_FOUND)
    message(FATAL_ERROR "libarchive (Debian: libarchive-dev) not found: exchange/ reads CVAT zip "
                        "exports with it. Install it, or configure with -DEXCAP_WITH_OPENCV=OFF")
  endif()
endif()

if(EXCAP_WITH_OPENCV)
  find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs videoio
               OPTIONAL_COMPONENTS ximgproc)
  add_library(excap_opencv INTERFACE)
  target_include_directories(excap_opencv SYSTEM INTERFACE ${OpenCV_INCLUDE_DIRS})
  target_link_libraries(excap_opencv INTERFACE ${OpenCV_LIBS})
  if(OpenCV_ximgproc_FOUND)
    target_compile_definitions(excap_opencv INTERFACE EXCAP_HAVE_XIMGPROC=1)
  endif()
endif()

if(EXCAP_WITH_TORCH)
  # Debian's LibTorch 1.13 (CPU), or a CUDA LibTorch 2.x via CMAKE_PREFIX_PATH.
  find_package(Torch REQUIRED)
  add_library(excap_torch INTERFACE)
  target_include_directories(excap_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  target_link_libraries(excap_torch INTERFACE ${TORCH_LIBRARIES})
  # TorchConfig puts its flags in TORCH_CXX_FLAGS (e.g. the ABI define).
  separate_arguments(_excap_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  target_compile_options(excap_torch INTERFACE ${_excap_torch_flags})
endif()

if(EXCAP_WITH_STUDIO)
  find_package(PkgConfig REQUIRED)
  # Debian's libimgui.a already holds the GLFW and OpenGL3 backends.
  pkg_check_modules(IMGUI REQUIRED IMPORTED_TARGET imgui)
  find_package(glfw3 REQUIRED)
  find_package(OpenGL REQUIRED)
  add_library(excap_imgui INTERFACE)
  target_link_libraries(excap_imgui INTERFACE PkgConfig::IMGUI glfw OpenGL::GL ${CMAKE_DL_LIBS})
endif()

if(EXCAP_BUILD_TESTS)
  find_package(doctest REQUIRED)
endif()
