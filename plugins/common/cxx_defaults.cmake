# The compiler settings every mgdn native library shares: C++17, hidden symbols (only what a
# library marks for export is visible to the process that loads it), Release unless asked.
#   include(${CMAKE_CURRENT_SOURCE_DIR}/../common/cxx_defaults.cmake)   # after project()
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_VISIBILITY_PRESET hidden)
set(CMAKE_VISIBILITY_INLINES_HIDDEN ON)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()
