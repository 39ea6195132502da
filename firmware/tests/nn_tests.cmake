# The gbnn engine's own C tests (../nn/tests/test_*.c, the same sources as the host's nn_test_* ctests) built for
# this Cortex-M4F board and run under qemu-system-arm through semihosting: exit code = result. They are unchanged
# programs with a main, stdio and malloc; proto_harness_target.c gives them newlib's system calls over
# semihosting (files are read from the host: test_core opens models/*.tflite relative to QEMU's working directory,
# the repository root here). test_frontend runs twice: with the frontend's DSP FFT (what the firmware runs) and
# with -DGBNN_FE_PLAIN_C (the plain C every other target runs). Included by CMakeLists.txt for the MCU boards
# with the wake word (the engine is in the image), after ports/cortex_m/cortex_m.cmake and protocol_tests.cmake.
file(GLOB GB_NN_TEST_SOURCES CONFIGURE_DEPENDS ${NN}/tests/test_*.c)
set(GB_NN_LIB_SOURCES ${GB_NN_SOURCES})
list(FILTER GB_NN_LIB_SOURCES EXCLUDE REGEX "/wake_model\\.c$")
set(GB_NN_FRONTEND_SOURCES ${NN}/src/frontend.c ${NN}/src/frontend_tables.c)

# The engine alone (the firmware's gb_fw_core also holds the app, whose symbols a test does not want).
add_library(gb_nn_m4 STATIC ${GB_NN_LIB_SOURCES})
target_include_directories(gb_nn_m4 PUBLIC ${NN}/include ${NN}/src)
target_compile_options(gb_nn_m4 PRIVATE ${GB_WARNINGS} -ffp-contract=off)

# Full newlib (printf's %zu, aligned_alloc), main wrapped to measure the stack (as the link engine's tests).
set(GB_NN_TEST_LINK ${GB_MCU_FLAGS} -nostartfiles --specs=nosys.specs -L${GB_BOARD_DIR}
    -T${FW}/ports/cortex_m/common.ld -Wl,--gc-sections -Wl,--wrap=main)

function(gb_nn_test t src)
  add_executable(${t} ${src} ${FW}/tests/proto_harness_target.c ${FW}/ports/cortex_m/startup.c ${ARGN})
  target_include_directories(${t} PRIVATE ${NN}/src ${NN}/tests)
  target_compile_definitions(${t} PRIVATE GB_TEST_STACK_BYTES=65536u)
  # -Wno-format: the tests print uint32_t with %u (newlib's uint32_t is unsigned long, of the same width here).
  target_compile_options(${t} PRIVATE ${GB_WARNINGS} -Wno-format -ffp-contract=off)
  target_link_libraries(${t} PRIVATE gb_nn_m4 gb_cortex_m m)
  set_property(TARGET ${t} PROPERTY LINK_OPTIONS ${GB_NN_TEST_LINK} -Wl,-Map=$<TARGET_FILE:${t}>.map)
  if(GB_QEMU)
    add_test(NAME ${t}_${GB_BOARD} COMMAND ${GB_QEMU_TEST} $<TARGET_FILE:${t}> WORKING_DIRECTORY ${GB_REPO_ROOT})
    set_tests_properties(${t}_${GB_BOARD} PROPERTIES TIMEOUT 120)
  endif()
endfunction()

foreach(src IN LISTS GB_NN_TEST_SOURCES)
  get_filename_component(name ${src} NAME_WE)
  gb_nn_test(fw_nn_${name} ${src})
endforeach()
target_compile_definitions(fw_nn_test_frontend PRIVATE GB_TEST_MAIN_WITH_ARGS)
# The plain C frontend: its own copy of the frontend's sources, compiled with GBNN_FE_PLAIN_C, linked ahead of the
# library's (which then contributes nothing of the frontend).
gb_nn_test(fw_nn_test_frontend_plain ${NN}/tests/test_frontend.c ${GB_NN_FRONTEND_SOURCES})
target_compile_definitions(fw_nn_test_frontend_plain PRIVATE GB_TEST_MAIN_WITH_ARGS GBNN_FE_PLAIN_C)
