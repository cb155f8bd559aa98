/* placeholder: being written */
#include "pagecast/bundle.h"
