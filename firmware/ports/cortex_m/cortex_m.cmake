# The MCU ports (mps2_an386, netduinoplus2): the firmware image, the unit tests as semihosting images run under
# qemu-system-arm (exit code = result), and a smoke test of the image over a QEMU chardev socket.
set(GB_BOARD_DIR ${FW}/ports/${GB_BOARD})
set(CMAKE_EXECUTABLE_SUFFIX .elf)  # images are ELF files for qemu -kernel and gdb
string(REPLACE "_" "-" GB_QEMU_MACHINE ${GB_BOARD})  # mps2_an386 -> mps2-an386
find_program(GB_SIZE_TOOL arm-none-eabi-size REQUIRED)
find_program(GB_QEMU qemu-system-arm)

set(GB_MCU_FLAGS -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard)
add_compile_options(${GB_MCU_FLAGS} -ffunction-sections -fdata-sections -g)
add_link_options(${GB_MCU_FLAGS} -nostartfiles --specs=nano.specs --specs=nosys.specs
                 -L${GB_BOARD_DIR} -T${FW}/ports/cortex_m/common.ld -Wl,--gc-sections)

gb_core_library(gb_fw_core)
target_include_directories(gb_fw_core PUBLIC ${GB_BOARD_DIR} ${FW}/ports/cortex_m)

# Startup, semihosting, clock, reset, boot counter: what every image of this board needs.
add_library(gb_cortex_m STATIC
  ${FW}/ports/cortex_m/startup.c ${FW}/ports/cortex_m/semihost.c ${FW}/ports/cortex_m/systick.c
  ${FW}/ports/cortex_m/bootcount.c ${FW}/ports/cortex_m/reset.c)
target_include_directories(gb_cortex_m PUBLIC ${GB_BOARD_DIR} ${FW}/ports/cortex_m ${GB_INCLUDES})
target_compile_options(gb_cortex_m PRIVATE ${GB_WARNINGS})

# The firmware image. Startup code in a static library would be dropped (nothing references the vector
# table), so the startup object goes into the image directly.
add_executable(glassbridge-fw ${FW}/ports/cortex_m/main.c ${FW}/ports/cortex_m/startup.c
               ${FW}/ports/cortex_m/sim_devices.c ${GB_BOARD_DIR}/board.c)
target_include_directories(glassbridge-fw PRIVATE ${GB_BOARD_DIR} ${FW}/ports/cortex_m)
target_compile_options(glassbridge-fw PRIVATE ${GB_WARNINGS})
target_link_libraries(glassbridge-fw PRIVATE gb_cortex_m gb_fw_core)
target_link_options(glassbridge-fw PRIVATE -Wl,-Map=$<TARGET_FILE:glassbridge-fw>.map)
gb_size_report(glassbridge-fw)

set(GB_QEMU_TEST ${GB_QEMU} -M ${GB_QEMU_MACHINE} -nographic -monitor none -serial null
    -semihosting-config enable=on,target=native -kernel)
foreach(src IN LISTS GB_TEST_SOURCES)
  get_filename_component(name ${src} NAME_WE)
  add_executable(fw_${name} ${src} ${FW}/tests/harness_target.c ${FW}/ports/cortex_m/startup.c)
  add_dependencies(fw_${name} gb_gen_vectors)
  target_include_directories(fw_${name} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/gen)
  target_compile_options(fw_${name} PRIVATE ${GB_WARNINGS})
  target_link_libraries(fw_${name} PRIVATE gb_cortex_m gb_fw_core m)
  if(GB_QEMU)
    add_test(NAME fw_${name}_${GB_BOARD} COMMAND ${GB_QEMU_TEST} $<TARGET_FILE:fw_${name}>)
    set_tests_properties(fw_${name}_${GB_BOARD} PROPERTIES TIMEOUT 60)
  endif()
endforeach()

# Smoke test of the image: needs the host build's gb-fw-client (make firmware builds the host first).
set(GB_FW_CLIENT ${GB_REPO_ROOT}/build/fw-host/gb-fw-client CACHE FILEPATH "host-built gb-fw-client for the smoke test")
if(GB_QEMU)
  add_test(NAME fw_smoke_${GB_BOARD}
    COMMAND ${FW}/tests/smoke.sh ${GB_QEMU_MACHINE} $<TARGET_FILE:glassbridge-fw> ${GB_FW_CLIENT})
  set_tests_properties(fw_smoke_${GB_BOARD} PROPERTIES TIMEOUT 60)
endif()
