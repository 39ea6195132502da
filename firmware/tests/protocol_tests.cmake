# The link engine's own C tests (../protocol/c/tests/test_*.c, the same sources as the host's proto_test_* ctests)
# built for this Cortex-M4F board and run under qemu-system-arm through semihosting: exit code = result.
# proto_harness_target.c gives them newlib's stdio, fopen (protocol/vectors/*.txt read from the host through
# semihosting, the same files the host tests read), malloc and exit. Included by CMakeLists.txt for the MCU boards,
# after ports/cortex_m/cortex_m.cmake (GB_MCU_FLAGS, GB_BOARD_DIR, GB_QEMU_TEST).
file(GLOB GB_PROTO_TEST_SOURCES CONFIGURE_DEPENDS ${PROTO}/tests/test_*.c)

# Scale (see the #ifndef defaults in sim.h, vectors.h and test_link.c; the host keeps those). Frames in test_link.c
# are at most 300 bytes (261 on the wire once both ends agree on 256), so wire packets of COBS(320) + 16 leave room
# for the bytes the faulty wire duplicates; its messages are at most 3,023 bytes; the longest vector line ~2.1 KB.
set(GB_PROTO_TEST_DEFS GB_VECTORS_DIR="${GB_REPO_ROOT}/protocol/vectors" VEC_LINE_MAX=4096
    "SIM_PKT_MAX=(GB_COBS_MAX_ENCODED(320u)+16u)" SIM_MESSAGE_MAX=4096 SIM_SHARED_QUEUES)
if(GB_BOARD STREQUAL "netduinoplus2")
  # 128 KB of SRAM for .data + .bss, the heap (malloc) and the stack reserve (GB_TEST_STACK_BYTES, per test
  # below): the two engines of a sim get an 8 KB transmit queue (the firmware's own) instead of 16 KB.
  # The wire's queues hold at most 17 packets in these runs.
  list(APPEND GB_PROTO_TEST_DEFS SIM_QUEUE=24 TEST_LINK_TX_QUEUE=8192u TEST_LINK_MEM_BYTES=19456u
       TEST_LINK_IO_BYTES=2048u TEST_LINK_MESSAGES=10000u)
  set(GB_PROTO_TEST_STACK 10240)
  set(GB_PROTO_TEST_STACK_test_messages 38912) # two 16 KB dumps on the stack
else()
  # 4 MB of SSRAM: the host's sizes, except the wire's packets.
  list(APPEND GB_PROTO_TEST_DEFS SIM_QUEUE=512)
  set(GB_PROTO_TEST_STACK 262144)
endif()

# Full newlib (not nano): the message dump prints 64-bit fields with PRIu64, which newlib-nano's printf lacks.
set(GB_PROTO_TEST_LINK ${GB_MCU_FLAGS} -nostartfiles --specs=nosys.specs -L${GB_BOARD_DIR}
    -T${FW}/ports/cortex_m/common.ld -Wl,--gc-sections -Wl,--wrap=main)

foreach(src IN LISTS GB_PROTO_TEST_SOURCES)
  get_filename_component(name ${src} NAME_WE)
  set(t fw_proto_${name})
  add_executable(${t} ${src} ${FW}/tests/proto_harness_target.c ${FW}/ports/cortex_m/startup.c)
  target_include_directories(${t} PRIVATE ${PROTO}/tests)
  set(stack ${GB_PROTO_TEST_STACK})
  if(DEFINED GB_PROTO_TEST_STACK_${name})
    set(stack ${GB_PROTO_TEST_STACK_${name}})
  endif()
  target_compile_definitions(${t} PRIVATE ${GB_PROTO_TEST_DEFS} GB_TEST_STACK_BYTES=${stack}u)
  # -Wno-format: the tests print uint32_t with %u, right on the host; newlib's uint32_t is unsigned long, of the
  # same width on this target, so the output is the same and only the format check objects.
  target_compile_options(${t} PRIVATE ${GB_WARNINGS} -Wno-format)
  target_link_libraries(${t} PRIVATE gb_cortex_m gb_fw_core m)
  # Replaces the directory's link options (nano.specs) for this image only.
  set_property(TARGET ${t} PROPERTY LINK_OPTIONS ${GB_PROTO_TEST_LINK} -Wl,-Map=$<TARGET_FILE:${t}>.map)
  if(GB_QEMU)
    add_test(NAME ${t}_${GB_BOARD} COMMAND ${GB_QEMU_TEST} $<TARGET_FILE:${t}>)
    set_tests_properties(${t}_${GB_BOARD} PROPERTIES TIMEOUT 60)
  endif()
endforeach()
