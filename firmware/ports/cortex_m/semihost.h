/* ARM semihosting (bkpt 0xAB on M-profile): test output and the exit code under QEMU
 * (-semihosting-config enable=on,target=native). Test images only: on silicon without a debugger attached the
 * bkpt is a HardFault. */
#ifndef GB_SEMIHOST_H
#define GB_SEMIHOST_H

void gb_semihost_write0(const char *s);
void gb_semihost_exit(int code) __attribute__((noreturn));

#endif
