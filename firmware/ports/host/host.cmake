# The host port: glassbridge-fw-host (the firmware on POSIX) and the unit tests under ASan + UBSan.
find_program(GB_SIZE_TOOL size)
set(GB_SAN -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)

gb_core_library(gb_fw_core)
target_compile_options(gb_fw_core PRIVATE -ffunction-sections -fdata-sections)

file(GLOB GB_HOST_SOURCES CONFIGURE_DEPENDS ${FW}/ports/host/*.c)
add_executable(glassbridge-fw-host ${GB_HOST_SOURCES})
target_compile_definitions(glassbridge-fw-host PRIVATE _GNU_SOURCE)
target_include_directories(glassbridge-fw-host PRIVATE ${FW}/ports/host)
target_compile_options(glassbridge-fw-host PRIVATE ${GB_WARNINGS})
target_link_libraries(glassbridge-fw-host PRIVATE gb_fw_core)
target_link_options(glassbridge-fw-host PRIVATE -Wl,--gc-sections -Wl,-Map=$<TARGET_FILE:glassbridge-fw-host>.map)
if(GB_SIZE_TOOL)
  gb_size_report(glassbridge-fw-host)
endif()

# A small link-engine client for smoke tests: connects to a firmware UART socket, handshakes, asks for Status.
add_executable(gb-fw-client ${FW}/tests/client/fw_client.c)
target_compile_definitions(gb-fw-client PRIVATE _GNU_SOURCE)
target_compile_options(gb-fw-client PRIVATE ${GB_WARNINGS})
target_link_libraries(gb-fw-client PRIVATE gb_fw_core)

# Unit tests with sanitizers: a second build of the core library.
gb_core_library(gb_fw_core_san)
target_compile_options(gb_fw_core_san PRIVATE -O1 -g ${GB_SAN})
foreach(src IN LISTS GB_TEST_SOURCES)
  get_filename_component(name ${src} NAME_WE)
  add_executable(fw_${name} ${src} ${FW}/tests/harness_host.c)
  add_dependencies(fw_${name} gb_gen_vectors)
  target_include_directories(fw_${name} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/gen)
  target_compile_options(fw_${name} PRIVATE -O1 -g ${GB_SAN} ${GB_WARNINGS})
  target_link_options(fw_${name} PRIVATE ${GB_SAN})
  target_link_libraries(fw_${name} PRIVATE gb_fw_core_san)
  add_test(NAME fw_${name} COMMAND fw_${name} WORKING_DIRECTORY ${GB_REPO_ROOT})
  set_tests_properties(fw_${name} PROPERTIES TIMEOUT 60)
endforeach()

# Smoke: the host port answers Status through the link engine over its UART socket.
add_test(NAME fw_smoke_host
  COMMAND ${FW}/tests/smoke.sh host $<TARGET_FILE:glassbridge-fw-host> $<TARGET_FILE:gb-fw-client>)
set_tests_properties(fw_smoke_host PROPERTIES TIMEOUT 30)
