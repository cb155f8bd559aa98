/* placeholder: being written */
#include "pagecast/status.h"
