#include "capri_metadata.h"
