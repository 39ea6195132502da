# wake-bench.elf: the wake word's cost on the Cortex-M4F (wake_bench.c says how it runs). Built with the firmware's
# own library and flags (gb_fw_core: the same wake.c, gbnn and embedded model as glassbridge-fw); no ctest: the
# rig's `glassbridge bench int8` runs it under qemu-system-arm with QEMU's instruction-counting plugin.
add_executable(wake-bench ${FW}/bench/wake_bench.c ${FW}/ports/cortex_m/startup.c)
target_include_directories(wake-bench PRIVATE ${GB_BOARD_DIR} ${FW}/ports/cortex_m)
target_compile_options(wake-bench PRIVATE ${GB_WARNINGS})
target_link_libraries(wake-bench PRIVATE gb_cortex_m gb_fw_core m)
target_link_options(wake-bench PRIVATE -Wl,-Map=$<TARGET_FILE:wake-bench>.map)

# The firmware image without the wake word, for the size comparison (glassbridge-fw-nowake.elf + .size + .map):
# the same sources, GB_WAKE_WORD off (no wake.c, audio_in.c, gbnn, model).
set(GB_NOWAKE_APP_SOURCES ${GB_APP_SOURCES})
list(FILTER GB_NOWAKE_APP_SOURCES EXCLUDE REGEX "/(wake|audio_in)\\.c$")
add_library(gb_fw_core_nowake STATIC ${GB_PROTO_SOURCES} ${GB_NOWAKE_APP_SOURCES})
target_include_directories(gb_fw_core_nowake PUBLIC ${FW}/src ${FW}/src/app ${FW}/src/hal ${PROTO}/include
                           ${GB_BOARD_DIR} ${FW}/ports/cortex_m)
target_compile_options(gb_fw_core_nowake PRIVATE ${GB_WARNINGS})
target_compile_definitions(gb_fw_core_nowake PUBLIC GB_FIRMWARE_VERSION="${GB_FW_VERSION}")
add_executable(glassbridge-fw-nowake ${FW}/ports/cortex_m/main.c ${FW}/ports/cortex_m/startup.c
               ${FW}/ports/cortex_m/sim_devices.c ${GB_BOARD_DIR}/board.c)
target_include_directories(glassbridge-fw-nowake PRIVATE ${GB_BOARD_DIR} ${FW}/ports/cortex_m)
target_compile_options(glassbridge-fw-nowake PRIVATE ${GB_WARNINGS})
target_link_libraries(glassbridge-fw-nowake PRIVATE gb_cortex_m gb_fw_core_nowake)
target_link_options(glassbridge-fw-nowake PRIVATE -Wl,-Map=$<TARGET_FILE:glassbridge-fw-nowake>.map)
gb_size_report(glassbridge-fw-nowake)
