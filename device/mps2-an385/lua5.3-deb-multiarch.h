/* Debian's Lua 5.3 source names its multiarch directory here (luaconf.h's
 * default module path); the image has no module path, so any name does. */
#define DEB_HOST_MULTIARCH "arm-none-eabi"
