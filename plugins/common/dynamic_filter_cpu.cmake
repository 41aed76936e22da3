# The shared CPU kernels, DynamicFilter (dynamic_filter_cpu.cpp) and window attention
# (window_attention_cpu.cpp), with their per-ISA inner loops, added
# to a library target by every CMake project that runs the op on a CPU (OpenVINO extension,
# ONNX Runtime op library), so both compile the very same files.
#   include(${CMAKE_CURRENT_SOURCE_DIR}/../common/dynamic_filter_cpu.cmake)
#   mgdn_add_cpu_kernel(my_target)
# On x86-64 the AVX2 and AVX-512 copies of the inner loop are built next to the baseline one and
# picked at run time, so the same library runs on any x86-64 CPU. Call it from the directory
# that defines the target (source file properties are per directory).
set(MGDN_COMMON_DIR ${CMAKE_CURRENT_LIST_DIR})

function(mgdn_add_cpu_kernel target)
  target_sources(${target} PRIVATE
    ${MGDN_COMMON_DIR}/dynamic_filter_cpu.cpp
    ${MGDN_COMMON_DIR}/window_attention_cpu.cpp
    ${MGDN_COMMON_DIR}/dynamic_filter_isa_generic.cpp)
  target_include_directories(${target} PRIVATE ${MGDN_COMMON_DIR})
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    target_sources(${target} PRIVATE
      ${MGDN_COMMON_DIR}/dynamic_filter_isa_avx2.cpp
      ${MGDN_COMMON_DIR}/dynamic_filter_isa_avx512.cpp)
    target_compile_definitions(${target} PRIVATE MGDN_HAVE_X86_ISA)
    set_source_files_properties(${MGDN_COMMON_DIR}/dynamic_filter_isa_avx2.cpp PROPERTIES
      COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    set_source_files_properties(${MGDN_COMMON_DIR}/dynamic_filter_isa_avx512.cpp PROPERTIES
      COMPILE_OPTIONS "-mavx512f;-mavx512vl;-mavx512bw;-mfma;-mf16c")
  endif()
endfunction()
