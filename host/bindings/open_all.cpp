#include "bindings/open_all.hpp"

namespace cronhost::bindings {

void open_all(lua_State* L) {
  open_json(L);
  open_log(L);
  open_job(L);
  open_state(L);
}

}  // namespace cronhost::bindings
