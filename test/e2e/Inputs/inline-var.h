// A C++17 inline variable: its initialiser lives in a COMDAT group that the
// linker keeps from only one object.
#include <string>
inline std::string shared_name = std::string("capri-") + "inline";
int from_a();
int from_b();
