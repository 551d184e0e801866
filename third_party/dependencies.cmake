# Included from the top-level CMakeLists.txt.
# CMake glue that turns Debian's system packages into imported targets.
# No foreign source lives here.

find_package(nlohmann_json 3.9 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)  # SHA-256 and HMAC for fingerprints, pseudonyms
find_package(LibArchive REQUIRED)                  # reading CVAT zip exports

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
