# Helpers that give every pimap target the same warnings, sanitizers and layout.
#
#   pimap_library(NAME SOURCES ... [DEPS ...])      -> static library pimap_<NAME>, alias pimap::<NAME>
#   pimap_executable(NAME SOURCES ... [DEPS ...])
#   pimap_test(NAME SOURCES ... [DEPS ...])         -> GoogleTest binary registered with ctest (label unit)

set(PIMAP_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough)
if(PIMAP_WERROR)
  list(APPEND PIMAP_WARNINGS -Werror)
endif()

if(PIMAP_FUZZ)
  # Everything a fuzz build compiles exists to be fuzzed: give libFuzzer coverage of all of it.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(PIMAP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# One Asio configuration for every translation unit: BOOST_ASIO_NO_DEPRECATED changes the return types
# of some Asio functions without changing their mangled names, so mixing TUs with and without it lets
# the linker pick an incompatible copy (seen as crashes in libs/net's abort()).
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED)

function(_pimap_common target)
  target_compile_options(${target} PRIVATE ${PIMAP_WARNINGS})
endfunction()

function(pimap_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(pimap_${name} STATIC ${A_SOURCES})
  add_library(pimap::${name} ALIAS pimap_${name})
  target_include_directories(pimap_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(pimap_${name} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
  _pimap_common(pimap_${name})
endfunction()

function(pimap_executable name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  _pimap_common(${name})
endfunction()

function(pimap_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  _pimap_common(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
endfunction()

# A GoogleTest binary that talks to the local cluster: each test requires the `pimap_stack` fixture and
# holds the `pimap_stack_users` lock (tests share the cluster's 50 mailboxes, so they run one at a time
# while unit tests and fuzz runs go on in parallel), and
# finds the cluster through PIMAP_STACK_JSON (tests skip, visibly, only when that variable is unset, i.e.
# when run by hand outside ctest).
function(pimap_integration_gtest target)
  gtest_discover_tests(${target}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS integration TIMEOUT 300
               FIXTURES_REQUIRED pimap_stack
               RESOURCE_LOCK pimap_stack_users
               ENVIRONMENT "PIMAP_STACK_JSON=${PIMAP_STACK_DIR}/stack.json;PIMAP_BUILD_DIR=${CMAKE_BINARY_DIR}")
endfunction()
