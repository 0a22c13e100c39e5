// HostCalls' files call: the operation named by a, its arguments as a JSON object in b, over
// api/run_files, the code files.* runs. read answers the bytes themselves; the others JSON.
#include <algorithm>

#include "api/run_files.hpp"
#include "plugin/host_calls.hpp"
#include "plugin/json_args.hpp"
#include "plugin/json_reply.hpp"
#include "plugin/wire.hpp"

namespace cronhost::plugin {
namespace {

nlohmann::json info_json(const std::filesystem::path& path, const api::FileInfo& info) {
  return {{"size", info.size}, {"mtime", info.mtime}, {"dir", info.dir}, {"path", path.string()}};
}

}  // namespace

Reply HostCalls::files(const Call& call) {
  static const std::vector<std::string> kOps = {"gzip", "list", "prune", "read", "remove", "stat", "write"};
  const std::string& op = call.a;
  if (std::find(kOps.begin(), kOps.end(), op) == kOps.end())
    throw ArgumentError("files: unknown operation '" + op + "' (one of gzip, list, prune, read, remove, stat, write)");
  const std::string function = "files." + op;
  const JsonArgs args(call.b, "files: the arguments", function);
  const std::string path = *args.string("path", true);
  api::RunFiles files(ctx_.job, ctx_.effects, ctx_.redactor,
                      [this] { return ctx_.cancelled() || std::chrono::steady_clock::now() >= ctx_.deadline; });

  if (op == "list") {
    auto entries = files.list(path, args.string("pattern").value_or("*"));
    if (!entries) return call_failed(entries);
    nlohmann::json out = nlohmann::json::array();
    for (const api::FileEntry& entry : entries.value()) {
      nlohmann::json item = info_json(entry.path, entry.info);
      item["name"] = entry.name;
      out.push_back(std::move(item));
    }
    return json_reply(out);
  }
  if (op == "stat") {
    auto stat = files.stat(path);
    if (!stat) return call_failed(stat);
    nlohmann::json out = info_json(stat->path, stat->info);
    if (stat->dry_run) out["dry_run"] = true;
    return json_reply(out);
  }
  if (op == "read") {
    const double max_bytes = args.number("max_bytes").value_or(api::RunFiles::kDefaultMaxReadBytes);
    if (auto checked = api::RunFiles::check_max_bytes(max_bytes); !checked) args.error(checked.message());
    std::string content;
    // The reply must fit a frame to reach an isolated plugin.
    auto read = files.read(path, max_bytes, [&content](std::string_view chunk) {
      if (content.size() + chunk.size() > kMaxFrameBytes - 64) return false;
      content.append(chunk);
      return true;
    });
    if (!read) return call_failed(read);
    return Reply::ok(std::move(content));
  }
  if (op == "write") {
    const std::string content = args.string("content").value_or("");
    if (!args.has("content")) args.error("field 'content' is required");
    auto written = files.write(path, content);
    if (!written) return call_failed(written);
    return Reply::ok(std::to_string(written.value()));
  }
  if (op == "remove") {
    auto removed = files.remove(path);
    if (!removed) return call_failed(removed);
    return Reply::ok("true");
  }
  if (op == "gzip") {
    auto gzipped = files.gzip(path, args.boolean("remove_source").value_or(false));
    if (!gzipped) return call_failed(gzipped);
    nlohmann::json out = {{"path", gzipped->path.string()}, {"bytes", gzipped->bytes}, {"source_bytes", gzipped->source_bytes}};
    if (gzipped->dry_run) {
      out["estimated"] = true;
      out["dry_run"] = true;
    }
    return json_reply(out);
  }
  api::PruneOptions options;
  options.pattern = args.string("pattern").value_or("*");
  options.older_than = args.number("older_than");
  options.keep = args.number("keep");
  auto removed = files.prune(path, options);
  if (!removed) return call_failed(removed);
  return json_reply(nlohmann::json(removed.value()));
}

}  // namespace cronhost::plugin
