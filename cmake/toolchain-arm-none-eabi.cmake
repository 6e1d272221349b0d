# The embedded profile: Debian's arm-none-eabi-g++ with newlib, objects only. It proves the
# core is 32-bit clean and builds without exceptions or RTTI, and gives code sizes. The ESP32-S3
# (Xtensa LX7) build itself happens under ESP-IDF.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m7 -mthumb -ffunction-sections -fdata-sections")
# -Wno-psabi: GCC's notes that an argument's passing changed in GCC 7.1 concern mixing objects
# from compilers older than that; nothing here does, and they would fill the build log.
set(CMAKE_CXX_FLAGS_INIT
    "-mcpu=cortex-m7 -mthumb -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti -Wno-psabi")
set(CMAKE_C_FLAGS_MINSIZEREL_INIT "-Os -DNDEBUG")
set(CMAKE_CXX_FLAGS_MINSIZEREL_INIT "-Os -DNDEBUG")
