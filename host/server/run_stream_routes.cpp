// GET /api/runs/{id}/output/stream: a run's output as server-sent events while it runs.
//
//   retry: 500
//   event: output        id: the offset after this text   data: {"text": "..."}
//   event: dropped       data: {"bytes": N}   (older output than the host keeps: LiveOutput)
//   event: end           data: {"status", "error"}  (the run ended; nothing follows)
//   : keepalive          (a comment every 10 s of quiet)
//
// It sends what the run printed so far, then each piece as it comes, then `end` once the
// state has the run's outcome (GET /api/runs/{id} after `end` shows it ended). A run that
// has ended gets its stored output and `end`; a run queued, or running on another host of a
// shared state, gets keepalives until it ends, then the same. Offsets count bytes of the
// output, so a client reconnecting with Last-Event-ID (or ?offset=) gets nothing twice.
//
// Each open stream holds one of the server's threads, so at most half of server.threads serve
// streams at once (a 503 past that), and a stream closes itself after kStreamMillis without
// `end`, inside the connection guard's deadline: the client reconnects with Last-Event-ID.
// A client that stops reading is dropped by the write timeout (10 s) or at that deadline.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>
#include <thread>

#include "server/connection_guard.hpp"
#include "server/http_json.hpp"
#include "server/routes.hpp"
#include "util/clock.hpp"

namespace cronhost::server {
namespace {

// A stream's life: under the guard's 30 s for a request's answer, with room for the last write.
constexpr int64_t kStreamMillis = ConnectionGuard::kRequestMillis - 5'000;
// How long one step waits for output (or looks at the store again for a run not running here).
constexpr auto kWait = std::chrono::milliseconds(1000);
// A comment after this much quiet, so proxies and the client see the connection is alive.
constexpr int64_t kKeepAliveMillis = 10'000;
// How often to look for the outcome of a run that ended here (the store writes it shortly).
constexpr auto kCommitPoll = std::chrono::milliseconds(50);
// At most this much text in one event.
constexpr size_t kChunkBytes = size_t{16} << 10;
// The client's reconnection delay after a stream closes: short, as the close is planned.
constexpr int kRetryMillis = 500;

std::string event(std::string_view name, std::optional<uint64_t> id, const nlohmann::json& data) {
  std::string out = "event: " + std::string(name) + "\n";
  if (id) out += "id: " + std::to_string(*id) + "\n";
  // JSON keeps the text on one line whatever it holds (SSE splits data at \r and \n).
  out += "data: " + data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
  return out;
}

nlohmann::json end_data(std::string_view status, std::string_view error) {
  return {{"status", status}, {"error", error.empty() ? nlohmann::json() : nlohmann::json(error)}};
}

// One client's stream; step() runs on the serving thread until it returns false.
class Stream {
 public:
  Stream(const ApiContext& ctx, int64_t run_id, uint64_t offset)
      : ctx_(ctx), run_id_(run_id), offset_(offset), until_ms_(now_ms() + kStreamMillis), quiet_since_ms_(now_ms()) {}

  // Writes what is new (waiting up to kWait for it); false: the stream is over or the client gone.
  bool step(httplib::DataSink& sink) {
    std::string out;
    bool over = false;
    if (first_) {
      out = "retry: " + std::to_string(kRetryMillis) + "\n\n";
      first_ = false;
    }
    if (!live_ && ctx_.live_outputs) live_ = ctx_.live_outputs->find(run_id_);
    if (live_) {
      const auto piece = live_->read(offset_, kChunkBytes, kWait);
      if (piece.dropped) out += event("dropped", std::nullopt, {{"bytes", piece.dropped}});
      if (!piece.text.empty()) out += event("output", piece.next, {{"text", piece.text}});
      offset_ = piece.next;
      // The outcome may still be on its way to the state: `end` comes from there, so a client
      // that reads the run after `end` finds it ended.
      if (piece.ended) {
        live_.reset();
        ended_here_ = true;
      }
    } else {
      over = from_store(out);
    }
    const int64_t now = now_ms();
    if (out.empty() && now - quiet_since_ms_ >= kKeepAliveMillis) out = ": keepalive\n\n";
    if (!out.empty()) {
      quiet_since_ms_ = now;
      if (!sink.write(out.data(), out.size())) return false;
    }
    if (over || now >= until_ms_) {
      sink.done();
      return false;
    }
    return true;
  }

 private:
  // A run not running on this host: its stored output once it has ended; true then.
  bool from_store(std::string& out) {
    const auto run = ctx_.reader.run(run_id_);
    if (!run) {  // deleted with its job since the stream began
      out += event("end", offset_, end_data("unknown", "the run is no longer in the state"));
      return true;
    }
    if (!store::is_final(run->status)) {
      std::this_thread::sleep_for(ended_here_ ? kCommitPoll : kWait);
      return false;
    }
    if (offset_ < run->output.size()) {
      out += event("output", run->output.size(), {{"text", run->output.substr(offset_)}});
      offset_ = run->output.size();
    }
    out += event("end", offset_, end_data(store::to_string(run->status), run->error));
    return true;
  }

  const ApiContext& ctx_;
  const int64_t run_id_;
  uint64_t offset_;
  const int64_t until_ms_;
  int64_t quiet_since_ms_;
  bool first_ = true;
  std::shared_ptr<const run::LiveOutput> live_;
  bool ended_here_ = false;  // the run ended on this host: its outcome is being stored
};

// Where the client resumes: Last-Event-ID (an EventSource reconnecting), else ?offset=, else 0.
std::optional<uint64_t> resume_offset(const httplib::Request& req, httplib::Response& res) {
  const bool header = req.has_header("Last-Event-ID");
  const std::string text = header ? req.get_header_value("Last-Event-ID") : req.get_param_value("offset");
  if (text.empty()) return 0;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    reply_error(res, 400, "bad_request",
                std::string(header ? "Last-Event-ID" : "offset") + "=" + text.substr(0, 40) +
                    ": expected a byte offset into the output (a whole number, 0 or more)");
    return std::nullopt;
  }
  return value;
}

}  // namespace

void add_run_stream_routes(Router& router, const ApiContext& ctx) {
  // Half the threads at most, so the API's other requests always find one.
  const int max_streams = std::max(1, ctx.settings.threads / 2);
  auto open_streams = std::make_shared<std::atomic<int>>(0);
  router.get(R"(/api/runs/(\d{1,18})/output/stream)", Permission::kRead,
             [&ctx, max_streams, open_streams](const auto& req, auto& res, const Caller&) {
               int64_t id = 0;
               const std::string id_text = req.matches[1];
               std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
               const auto offset = resume_offset(req, res);
               if (!offset) return;
               if (!ctx.reader.run(id)) return reply_error(res, 404, "not_found", "no run " + id_text);
               if (open_streams->fetch_add(1) >= max_streams) {
                 open_streams->fetch_sub(1);
                 res.set_header("Retry-After", "5");
                 return reply_error(res, 503, "unavailable",
                                    "already " + std::to_string(max_streams) +
                                        " output streams open (half of server.threads); read GET /api/runs/" + id_text +
                                        " instead, or try again");
               }
               auto stream = std::make_shared<Stream>(ctx, id, *offset);
               res.set_header("Cache-Control", "no-store");
               res.set_header("X-Accel-Buffering", "no");  // nginx: pass each event on at once
               // Exactly text/event-stream: httplib compresses other text/* types, holding events back.
               res.set_chunked_content_provider(
                   "text/event-stream",
                   [stream](size_t, httplib::DataSink& sink) { return stream->step(sink); },
                   [open_streams](bool) { open_streams->fetch_sub(1); });
             });
}

}  // namespace cronhost::server
