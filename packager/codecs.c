/* placeholder: being written */
#include "pagecast/codecs.h"
#include "pagecast/status.h"
int pc_codecs_from_init(const uint8_t *init, size_t len, char *out, size_t cap)
{ (void)init; (void)len; (void)out; (void)cap; return PC_EINVAL; }
int pc_codecs_from_config(const char fourcc[4], const uint8_t *cfg, size_t len, char *out, size_t cap)
{ (void)fourcc; (void)cfg; (void)len; (void)out; (void)cap; return PC_EINVAL; }
