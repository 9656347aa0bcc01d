// The header's one function is inlined where it is used; SwiftPM builds a C target from at
// least one source file.
#include "CPrefetch.h"
