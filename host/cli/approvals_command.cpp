// cronhost approvals list | show | approve | cancel: the people's side of the approvals jobs
// ask for. list and show read like history (a read-only connection); approve and cancel write
// through the store opened as a client (store/open_store.hpp), which works while the daemon runs: the daemon holds the host
// lock, and WAL lets the two connections write in turn. With --server, all four go through a
// running host's API instead, and the token's name is who decided.
#include <pwd.h>
#include <unistd.h>

#include <iostream>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "store/open_store.hpp"
#include "util/clock.hpp"

namespace cronhost::cli {
namespace {

struct ApprovalsOptions {
  std::string state;
  bool json = false;
  int64_t id = 0;
  std::string status, kind, job;
  int limit = 100;
  std::string by, note;
  ServerOptions server;
};

std::unique_ptr<store::Store> open_state(const CommonOptions& common, const std::string& state, store::OpenMode mode) {
  config::Diagnostics diagnostics;
  auto context = load_host_context(common, diagnostics);
  if (!context) {
    print_diagnostics(diagnostics);
    return nullptr;
  }
  auto store = store::open_store(store::state_location(context->config, state), mode);
  if (!store) {
    std::cerr << "cronhost: error: " << store.message() << "\n";
    return nullptr;
  }
  return std::move(store).value();
}

// The audit log's actor for a change made on the state file: the local account that ran the
// command (--by names the person, which anyone can type).
std::string local_actor() {
  if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_name && *pw->pw_name) return std::string("cli:") + pw->pw_name;
  return "cli:uid " + std::to_string(geteuid());
}

std::string text_of(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// At most `width` bytes, cut at a character boundary, "..." marking the cut.
std::string clip(const std::string& text, size_t width) {
  if (text.size() <= width) return text;
  size_t end = width - 3;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "...";
}

// Columns as wide as their widest cell; the last one unpadded.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i)
      line += i + 1 == row.size() ? row[i] : row[i] + std::string(widths[i] - row[i].size() + 2, ' ');
    std::cout << line << "\n";
  }
}

// Approvals as approval_to_json shows them: a table, or the JSON itself.
int print_list(const nlohmann::json& approvals, bool json) {
  if (json) {
    std::cout << approvals.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "STATUS", "KIND", "KEY", "TITLE", "REQUESTED", "DECIDED BY"}};
  for (const auto& j : approvals)
    rows.push_back({text_of(j["id"]), text_of(j["status"]), clip(text_of(j["kind"]), 24), clip(text_of(j["key"]), 32),
                    clip(text_of(j["title"]), 50), text_of(j["requested_at"]), text_of(j["decided_by"])});
  print_table(rows);
  return kExitOk;
}

int print_one(const nlohmann::json& j, bool json) {
  if (json) {
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  for (const char* field : {"id", "status", "kind", "key", "group", "title", "job", "requested_at", "decided_by",
                            "decided_at", "executed_at", "closed_at", "superseded_by", "notes"})
    std::cout << field << ": " << text_of(j[field]) << "\n";
  std::cout << "payload:\n" << j["payload"].dump(2) << "\n";
  return kExitOk;
}

int list(const CommonOptions& common, const ApprovalsOptions& o) {
  auto store = open_state(common, o.state, store::OpenMode::kReader);
  if (!store) return kExitUsage;
  const store::ApprovalQuery query{
      .kind = o.kind, .key = "", .job = o.job, .status = store::parse_approval_status(o.status), .limit = o.limit};
  auto found = store->approvals(query);
  if (!found) {
    std::cerr << "cronhost: error: " << found.message() << "\n";
    return kExitFailed;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : *found) out.push_back(store::approval_to_json(a));
  return print_list(out, o.json);
}

int show(const CommonOptions& common, const ApprovalsOptions& o) {
  auto store = open_state(common, o.state, store::OpenMode::kReader);
  if (!store) return kExitUsage;
  auto found = store->approval(o.id);
  if (!found) {
    std::cerr << "cronhost: error: " << found.message() << "\n";
    return kExitFailed;
  }
  if (!found.value()) {
    std::cerr << "cronhost: error: no approval " << o.id << "\n";
    return kExitFailed;
  }
  return print_one(store::approval_to_json(**found), o.json);
}

int approve(const CommonOptions& common, const ApprovalsOptions& o) {
  auto store = open_state(common, o.state, store::OpenMode::kClient);
  if (!store) return kExitUsage;
  auto approved = store->approval_decide(o.id, store::ApprovalStatus::kApproved, o.by, o.note, now_ms(), local_actor());
  if (!approved) {
    std::cerr << "cronhost: error: " << approved.message() << "\n";
    return kExitFailed;
  }
  std::cout << "approved " << approved->id << " (" << approved->kind << " " << approved->key << ": " << approved->title
            << ") as " << o.by << "\n";
  // Say what the approval closed, so nobody wonders why an older one will not be acted on.
  if (!approved->group.empty()) {
    auto closed = store->approvals({.kind = approved->kind, .status = store::ApprovalStatus::kSuperseded, .limit = 1000});
    if (closed)
      for (const auto& a : *closed)
        if (a.superseded_by == approved->id) std::cout << "superseded " << a.id << " (" << a.kind << " " << a.key << ")\n";
  }
  return kExitOk;
}

int cancel(const CommonOptions& common, const ApprovalsOptions& o) {
  auto store = open_state(common, o.state, store::OpenMode::kClient);
  if (!store) return kExitUsage;
  auto cancelled = store->approval_cancel(o.id, o.by, o.note, now_ms(), local_actor());
  if (!cancelled) {
    std::cerr << "cronhost: error: " << cancelled.message() << "\n";
    return kExitFailed;
  }
  std::cout << "cancelled " << cancelled->id << " (" << cancelled->kind << " " << cancelled->key
            << "); the next request for it asks again\n";
  return kExitOk;
}

// The four through a running host's API.
int remote(const ApprovalsOptions& o, const std::string& action) {
  auto client = ApiClient::connect(o.server);
  if (!client) {
    std::cerr << "cronhost: error: " << client.message() << "\n";
    return kExitUsage;
  }
  const std::string one = "/api/approvals/" + std::to_string(o.id);
  Result<nlohmann::json> answer = Result<nlohmann::json>::error("");
  if (action == "list") {
    std::string query = "?limit=" + std::to_string(o.limit);
    if (!o.status.empty()) query += "&status=" + url_encode(o.status);
    if (!o.kind.empty()) query += "&kind=" + url_encode(o.kind);
    if (!o.job.empty()) query += "&job=" + url_encode(o.job);
    answer = client.value()->call("GET", "/api/approvals" + query);
  } else if (action == "show") {
    answer = client.value()->call("GET", one);
  } else if (action == "approve") {
    answer = client.value()->call("POST", one + "/approve", o.note.empty() ? nlohmann::json::object() : nlohmann::json{{"note", o.note}});
  } else {
    answer = client.value()->call("DELETE", o.note.empty() ? one : one + "?note=" + url_encode(o.note));
  }
  if (!answer) {
    std::cerr << "cronhost: error: " << answer.message() << "\n";
    return kExitFailed;
  }
  const nlohmann::json& j = answer.value();
  if (action == "list") return print_list(j["approvals"], o.json);
  if (action == "show") return print_one(j, o.json);
  std::cout << (action == "approve" ? "approved " : "cancelled ") << text_of(j["id"]) << " (" << text_of(j["kind"]) << " "
            << text_of(j["key"]) << ": " << text_of(j["title"]) << ")"
            << (action == "approve" ? " as " + text_of(j["decided_by"]) : "") << "\n";
  return kExitOk;
}

// --by and --note name a person and their reason: never blank.
std::string not_blank(const std::string& value) {
  return value.find_first_not_of(" \t") == std::string::npos ? "must not be empty" : "";
}

}  // namespace

Command add_approvals_command(CLI::App& app, const CommonOptions& common) {
  auto o = std::make_shared<ApprovalsOptions>();
  auto* cmd = app.add_subcommand("approvals", "List, show, approve or cancel the approvals jobs ask for");
  cmd->require_subcommand(1);
  cmd->fallthrough();
  const auto add_common = [&o](CLI::App* sub, bool with_json) {
    sub->fallthrough();  // --config, --jobs and --state wherever they are written
    sub->add_option("--state", o->state, "State file (default: from the config, else ./cronhost.db)");
    add_server_options(sub, o->server);
    if (with_json) sub->add_flag("--json", o->json, "Print JSON");
  };

  auto* list_cmd = cmd->add_subcommand("list", "List approvals, newest first");
  add_common(list_cmd, true);
  list_cmd->add_option("--status", o->status, "Only this status: PENDING, APPROVED, EXECUTED, FAILED or SUPERSEDED")
      ->check(CLI::IsMember({"PENDING", "APPROVED", "EXECUTED", "FAILED", "SUPERSEDED"}, CLI::ignore_case));
  list_cmd->add_option("--kind", o->kind, "Only this kind");
  list_cmd->add_option("--job", o->job, "Only those this job asked for");
  list_cmd->add_option("--limit", o->limit, "How many (default 100)")->check(CLI::Range(1, 100000));

  auto* show_cmd = cmd->add_subcommand("show", "Show one approval with its payload");
  add_common(show_cmd, true);
  show_cmd->add_option("id", o->id, "Approval id (from list)")->required()->check(CLI::PositiveNumber);

  auto* approve_cmd = cmd->add_subcommand("approve", "Approve a PENDING approval; jobs waiting for it act next, older ones of its group are superseded");
  add_common(approve_cmd, false);
  approve_cmd->add_option("id", o->id, "Approval id (from list)")->required()->check(CLI::PositiveNumber);
  approve_cmd->add_option("--by", o->by, "Who approves (recorded; with --server: the token's name)")->check(not_blank);
  approve_cmd->add_option("--note", o->note, "Why, or any condition (recorded, given to the job)")->check(not_blank);

  auto* cancel_cmd =
      cmd->add_subcommand("cancel", "Delete a PENDING or APPROVED approval; the job may ask for it again");
  add_common(cancel_cmd, false);
  cancel_cmd->add_option("id", o->id, "Approval id (from list)")->required()->check(CLI::PositiveNumber);
  cancel_cmd->add_option("--by", o->by, "Who cancels (recorded; with --server: the token's name)")->check(not_blank);
  cancel_cmd->add_option("--note", o->note, "Why (recorded in the event)")->check(not_blank);
  cmd->footer("Exit 0 on success, 1 for an unknown id or a wrong status, 2 for usage errors.");

  return [=, &common]() -> int {
    const std::string action = list_cmd->parsed() ? "list" : show_cmd->parsed() ? "show" : approve_cmd->parsed() ? "approve" : "cancel";
    if (!o->server.url.empty()) {
      if (!o->by.empty()) {
        std::cerr << "cronhost: error: --by is for the state file; with --server the token's name is recorded\n";
        return kExitUsage;
      }
      return remote(*o, action);
    }
    if ((action == "approve" || action == "cancel") && o->by.empty()) {
      std::cerr << "cronhost: error: --by is required: who " << (action == "approve" ? "approves" : "cancels") << "\n";
      return kExitUsage;
    }
    if (list_cmd->parsed()) return list(common, *o);
    if (show_cmd->parsed()) return show(common, *o);
    if (approve_cmd->parsed()) return approve(common, *o);
    return cancel(common, *o);
  };
}

}  // namespace cronhost::cli
