#include "inline-var.h"
int from_b() { return (int)shared_name.size(); }
