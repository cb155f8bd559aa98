/* placeholder: being written */
#include "pagecast/packager.h"
