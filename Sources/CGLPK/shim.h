#ifndef RELUMIP_CGLPK_SHIM_H
#define RELUMIP_CGLPK_SHIM_H
#include <glpk.h>
#endif
