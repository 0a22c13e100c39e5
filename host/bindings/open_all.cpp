#include "bindings/open_all.hpp"

namespace cronhost::bindings {

void open_all(lua_State* L) {
  open_json(L);
  open_log(L);
  open_job(L);
  open_state(L);
  open_approvals(L);
  open_semver(L);
  open_http(L);
  open_registry(L);
  open_db(L);
  open_files(L);
  open_storage(L);
  open_mail(L);
  open_host(L);
}

}  // namespace cronhost::bindings
