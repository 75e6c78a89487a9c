#include "inline-var.h"
int from_a() { return (int)shared_name.size(); }
int main() { return from_a() == from_b() ? 0 : 1; }
