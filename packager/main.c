#include "pagecast/packager.h"
int main(void) { return 2; }
