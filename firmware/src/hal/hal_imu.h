/* The inertial sensor: one sample per call, in the units of glassbridge.proto's Imu message. */
#ifndef GB_HAL_IMU_H
#define GB_HAL_IMU_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  int32_t accel_mg[3];    /* x, y, z in milli-g */
  int32_t gyro_mdps[3];   /* x (pitch), y (yaw), z (roll) in milli-degrees per second */
} gb_imu_sample;

#define GB_IMU_RATE_HZ 100u

/* The latest sample; false when the sensor has none (absent or not ready). */
bool hal_imu_read(gb_imu_sample *out);

#endif
