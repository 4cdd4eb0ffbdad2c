#ifndef RELUMIP_CZLIB_SHIM_H
#define RELUMIP_CZLIB_SHIM_H
#include <zlib.h>
#endif
