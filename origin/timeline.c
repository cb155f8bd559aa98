/* placeholder: being written */
#include "manifest.h"
