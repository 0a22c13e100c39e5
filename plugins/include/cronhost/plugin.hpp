// cronhost/plugin.hpp: a header-only C++17 wrapper over cronhost/plugin.h for plugin authors.
//
//   #include <cronhost/plugin.hpp>
//
//   static void run(cronhost::Host& host) {
//     std::string page = host.http(R"({"url": "https://api.acme.test/items"})");  // JSON text
//     host.info("fetched " + std::to_string(page.size()) + " bytes");
//     host.set_result(R"({"ok": true})");
//   }
//   CRONHOST_PLUGIN("items", "1.0.0", "Counts the items", run)
//
// Host calls throw cronhost::Error (with the status and the host's message) when they fail;
// an exception leaving run() is caught at the boundary and fails the run with its message, so
// none crosses into the host. Buffers from the host are copied into std::string and released
// at once. Values are JSON text: use any JSON library.
#ifndef CRONHOST_PLUGIN_HPP
#define CRONHOST_PLUGIN_HPP

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cronhost/plugin.h"

namespace cronhost {

// A host call that did not succeed; status() is one of the CRONHOST_E* codes.
class Error : public std::runtime_error {
 public:
  Error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

class Host {
 public:
  Host(cronhost_run_t* run, const cronhost_host_api_t* api) : run_(run), api_(api) {}

  void log(cronhost_log_level_t level, std::string_view text) const { api_->log(run_, level, text.data(), text.size()); }
  void debug(std::string_view text) const { log(CRONHOST_LOG_DEBUG, text); }
  void info(std::string_view text) const { log(CRONHOST_LOG_INFO, text); }
  void warn(std::string_view text) const { log(CRONHOST_LOG_WARN, text); }
  void error(std::string_view text) const { log(CRONHOST_LOG_ERROR, text); }

  std::string params() const {
    return take([&](cronhost_buf_t* out) { return api_->params(run_, out); });
  }
  // The stored JSON value, or nullopt when the key is unset.
  std::optional<std::string> state_get(std::string_view key) const {
    std::string value = take([&](cronhost_buf_t* out) { return api_->state_get(run_, key.data(), key.size(), out); });
    if (value == "null") return std::nullopt;
    return value;
  }
  void state_put(std::string_view key, std::string_view json) const {
    check(api_->state_put(run_, key.data(), key.size(), json.data(), json.size()));
  }
  void state_delete(std::string_view key) const { check(api_->state_delete(run_, key.data(), key.size())); }

  std::string http(std::string_view request_json) const {
    return take([&](cronhost_buf_t* out) { return api_->http_request(run_, request_json.data(), request_json.size(), out); });
  }
  std::string mail(std::string_view message_json) const {
    return take([&](cronhost_buf_t* out) { return api_->mail_send(run_, message_json.data(), message_json.size(), out); });
  }
  std::string db_query(std::string_view db, std::string_view sql, std::string_view params_json = "[]") const {
    return take([&](cronhost_buf_t* out) {
      return api_->db_query(run_, db.data(), db.size(), sql.data(), sql.size(), params_json.data(), params_json.size(), out);
    });
  }
  int64_t db_exec(std::string_view db, std::string_view sql, std::string_view params_json = "[]") const {
    int64_t changes = 0;
    check(api_->db_exec(run_, db.data(), db.size(), sql.data(), sql.size(), params_json.data(), params_json.size(), &changes));
    return changes;
  }
  std::string db_backup(std::string_view db, std::string_view dest) const {
    return take([&](cronhost_buf_t* out) { return api_->db_backup(run_, db.data(), db.size(), dest.data(), dest.size(), out); });
  }
  // ABI 1.2: throws Error(CRONHOST_EHOST) on an older host, which lacks it.
  std::string db_dump(std::string_view db, std::string_view options_json) const {
    if (!CRONHOST_HOST_HAS(api_, db_dump)) throw Error(CRONHOST_EHOST, "db_dump needs a host with ABI 1.2 or later");
    return take([&](cronhost_buf_t* out) {
      return api_->db_dump(run_, db.data(), db.size(), options_json.data(), options_json.size(), out);
    });
  }
  std::string files(std::string_view op, std::string_view args_json) const {
    return take([&](cronhost_buf_t* out) { return api_->files(run_, op.data(), op.size(), args_json.data(), args_json.size(), out); });
  }
  std::string registry_tags(std::string_view image) const {
    return take([&](cronhost_buf_t* out) { return api_->registry_tags(run_, image.data(), image.size(), out); });
  }
  std::string registry_latest(std::string_view image, std::string_view options_json = "") const {
    return take([&](cronhost_buf_t* out) {
      return api_->registry_latest(run_, image.data(), image.size(), options_json.data(), options_json.size(), out);
    });
  }
  std::string approvals(std::string_view op, std::string_view args_json) const {
    return take([&](cronhost_buf_t* out) { return api_->approvals(run_, op.data(), op.size(), args_json.data(), args_json.size(), out); });
  }
  void set_result(std::string_view json) const { check(api_->set_result(run_, json.data(), json.size())); }
  bool should_stop() const { return api_->should_stop(run_) != 0; }
  // Milliseconds left before the deadline; -1 when the host predates ABI 1.1.
  int64_t time_left_ms() const { return CRONHOST_HOST_HAS(api_, time_left_ms) ? api_->time_left_ms(run_) : -1; }

  cronhost_run_t* run() const { return run_; }
  const cronhost_host_api_t* api() const { return api_; }

 private:
  void check(int status) const {
    if (status == CRONHOST_OK) return;
    size_t len = 0;
    const char* message = api_->last_error(run_, &len);
    throw Error(status, std::string(message, len));
  }
  template <typename Call>
  std::string take(Call call) const {
    cronhost_buf_t buf{nullptr, 0};
    const int status = call(&buf);
    std::string value = buf.data ? std::string(buf.data, buf.size) : std::string();
    api_->free_buf(&buf);
    check(status);  // last_error() survives free_buf
    return value;
  }

  cronhost_run_t* run_;
  const cronhost_host_api_t* api_;
};

namespace detail {
// Runs a C++ run function behind the C boundary: every exception becomes a status and message.
template <void (*Run)(Host&)>
int run_at_boundary(cronhost_run_t* run, const cronhost_host_api_t* api) {
  const auto fail = [&](int status, const std::string& message) {
    api->set_error(run, message.data(), message.size());
    return status;
  };
  try {
    Host host(run, api);
    Run(host);
    return CRONHOST_OK;
  } catch (const Error& e) {
    return fail(e.status(), e.what());
  } catch (const std::exception& e) {
    return fail(CRONHOST_EFAILED, e.what());
  } catch (...) {  // the C boundary: nothing may unwind into the host
    return fail(CRONHOST_EFAILED, "the plugin threw an exception that is not a std::exception");
  }
}
}  // namespace detail

}  // namespace cronhost

// Defines the plugin and its entry point from a function void run(cronhost::Host&).
#define CRONHOST_PLUGIN(NAME, VERSION, DESCRIPTION, RUN)                                              \
  extern "C" CRONHOST_EXPORT const cronhost_plugin_t* cronhost_plugin_v1(void) {                     \
    static const cronhost_plugin_t plugin = {CRONHOST_ABI_VERSION,                                    \
                                             sizeof(cronhost_plugin_t),                               \
                                             NAME,                                                    \
                                             VERSION,                                                 \
                                             nullptr,                                                 \
                                             &cronhost::detail::run_at_boundary<RUN>,                 \
                                             nullptr,                                                 \
                                             DESCRIPTION};                                            \
    return &plugin;                                                                                   \
  }

#endif  // CRONHOST_PLUGIN_HPP
