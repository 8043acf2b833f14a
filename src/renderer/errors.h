// A command the renderer cannot carry out for a reason of the guest's making (a reused id, a
// ring layout outside its resource, a command on the wrong path). Like a WireError, it makes
// the context fatal and nothing else.
#pragma once

#include <stdexcept>
#include <string>

namespace venus::renderer {

class ContextError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace venus::renderer
