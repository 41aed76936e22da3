# The TensorRT backend of mgdn_edge: TensorRT's headers and libnvinfer (+ libnvonnxparser, which
# lets the library build an engine from model.trt.onnx on the device) and the CUDA runtime.
# TENSORRT_INCLUDE_DIR / TENSORRT_LIBRARY_DIR point at a TensorRT outside the system folders
# (JetPack installs it under /usr/include/aarch64-linux-gnu and /usr/lib/aarch64-linux-gnu).
# Written for CMake 3.16 (JetPack 5's Ubuntu 20.04): no FindCUDAToolkit needed.

find_path(TENSORRT_INCLUDE_DIR NvInfer.h
          HINTS ${TENSORRT_ROOT}/include $ENV{TENSORRT_INCLUDE_DIR}
          PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE} /usr/include /usr/local/tensorrt/include)
if(NOT TENSORRT_INCLUDE_DIR)
  message(FATAL_ERROR "MGDN_WITH_TENSORRT: NvInfer.h not found; set -DTENSORRT_INCLUDE_DIR=... (JetPack: apt install "
                      "libnvinfer-dev libnvonnxparsers-dev), or build without it: -DMGDN_WITH_TENSORRT=OFF")
endif()
file(STRINGS ${TENSORRT_INCLUDE_DIR}/NvInferVersion.h _mgdn_trt_version_lines
     REGEX "#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? +[0-9]+")
foreach(_part MAJOR MINOR PATCH)
  string(REGEX MATCH "_${_part}(_ENTERPRISE)? +([0-9]+)" _hit "${_mgdn_trt_version_lines}")
  set(MGDN_TRT_${_part} ${CMAKE_MATCH_2})
endforeach()
set(MGDN_TRT_VERSION "${MGDN_TRT_MAJOR}.${MGDN_TRT_MINOR}.${MGDN_TRT_PATCH}")
if(MGDN_TRT_VERSION VERSION_LESS 8.5)
  message(FATAL_ERROR "the TensorRT backend needs TensorRT >= 8.5 (enqueueV3); ${TENSORRT_INCLUDE_DIR} holds "
                      "${MGDN_TRT_VERSION}")
endif()

# TensorRT's headers include cuda_runtime_api.h.
find_path(MGDN_CUDA_INCLUDE_DIR cuda_runtime_api.h HINTS ${CUDAToolkit_ROOT}/include $ENV{CUDA_HOME}/include
          PATHS /usr/local/cuda/include /usr/include)
if(NOT MGDN_CUDA_INCLUDE_DIR)
  message(FATAL_ERROR "MGDN_WITH_TENSORRT: cuda_runtime_api.h not found; set -DCUDAToolkit_ROOT=/usr/local/cuda")
endif()

set(_mgdn_trt_sources src/tensorrt_backend.cpp src/tensorrt_build.cpp src/tensorrt_common.cpp
                      src/tensorrt_sidecar.cpp src/sha256.cpp)
target_sources(mgdn_edge PRIVATE ${_mgdn_trt_sources})
target_compile_definitions(mgdn_edge PRIVATE MGDN_WITH_TENSORRT)
target_include_directories(mgdn_edge SYSTEM PRIVATE ${TENSORRT_INCLUDE_DIR} ${MGDN_CUDA_INCLUDE_DIR})
# TensorRT 10/11 headers mark the 8.x spellings deprecated; the backend uses only calls present in 8.5..11.
target_compile_options(mgdn_edge PRIVATE -Wno-deprecated-declarations)
set(MGDN_TRT_ONNX_PARSER OFF)
if(EXISTS ${TENSORRT_INCLUDE_DIR}/NvOnnxParser.h)
  set(MGDN_TRT_ONNX_PARSER ON)
  target_compile_definitions(mgdn_edge PRIVATE MGDN_TRT_ONNX_PARSER)
endif()

if(MGDN_TRT_FAKE_RUNTIME)
  add_subdirectory(tests/trt_fake)
  target_sources(mgdn_edge PRIVATE tests/trt_fake/fake_device.cpp)
  target_link_libraries(mgdn_edge PRIVATE mgdn_fake_nvinfer)
  if(MGDN_TRT_ONNX_PARSER)
    target_link_libraries(mgdn_edge PRIVATE mgdn_fake_nvonnxparser)
  endif()
  message(STATUS "mgdn_edge: TensorRT ${MGDN_TRT_VERSION} headers on the CPU FAKE runtime (tests only)")
else()
  find_library(TENSORRT_NVINFER nvinfer HINTS ${TENSORRT_LIBRARY_DIR} ${TENSORRT_ROOT}/lib
               PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/local/tensorrt/lib)
  find_library(MGDN_CUDART cudart HINTS ${CUDAToolkit_ROOT}/lib64 ${CUDAToolkit_ROOT}/lib $ENV{CUDA_HOME}/lib64
               PATHS /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
  if(NOT TENSORRT_NVINFER OR NOT MGDN_CUDART)
    message(FATAL_ERROR "MGDN_WITH_TENSORRT: libnvinfer (${TENSORRT_NVINFER}) or libcudart (${MGDN_CUDART}) not "
                        "found; set -DTENSORRT_LIBRARY_DIR=... / -DCUDAToolkit_ROOT=...")
  endif()
  target_sources(mgdn_edge PRIVATE src/tensorrt_device_cuda.cpp)
  target_link_libraries(mgdn_edge PRIVATE ${TENSORRT_NVINFER} ${MGDN_CUDART} ${CMAKE_DL_LIBS})
  if(MGDN_TRT_ONNX_PARSER)
    find_library(TENSORRT_NVONNXPARSER nvonnxparser HINTS ${TENSORRT_LIBRARY_DIR} ${TENSORRT_ROOT}/lib
                 PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/local/tensorrt/lib)
    if(NOT TENSORRT_NVONNXPARSER)
      message(FATAL_ERROR "NvOnnxParser.h is in ${TENSORRT_INCLUDE_DIR} but libnvonnxparser was not found; set "
                          "-DTENSORRT_LIBRARY_DIR=...")
    endif()
    target_link_libraries(mgdn_edge PRIVATE ${TENSORRT_NVONNXPARSER})
  endif()
  message(STATUS "mgdn_edge: TensorRT ${MGDN_TRT_VERSION} (${TENSORRT_NVINFER}), ONNX parser ${MGDN_TRT_ONNX_PARSER}")
endif()
