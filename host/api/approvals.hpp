// Approvals as a run uses them (approvals.request/list/get/mark_* and the plugin vtable's
// approval calls): the job's scope (allow.approvals), the size limits, redaction of what
// reaches the state file, and the dry-run rule (reads are real, request and mark are
// captured and answer what the live call would). The one implementation; the Lua binding
// only converts arguments and results. Belongs to the run's thread.
//
// Each call comes in two steps so that adapters can tell misuse from the world failing:
// check_* validates the arguments (its message is the caller's error, raised in Lua), the
// action reports a failing state file or a refused change (nil, err in Lua). Messages do not
// name the function: the adapter prefixes "approvals.request: " and the like.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/effects.hpp"
#include "config/job_spec.hpp"
#include "store/state_store.hpp"
#include "util/clock.hpp"
#include "util/status.hpp"

namespace cronhost::api {

// An approval is read by people (the CLI table, a dashboard) and carried by every event about
// it; these keep it to something a person reads.
constexpr size_t kMaxApprovalNameBytes = 256;  // kind, key, group
constexpr size_t kMaxApprovalTitleBytes = 1024;
constexpr size_t kMaxApprovalPayloadBytes = 64 << 10;
constexpr int kMaxApprovalListLimit = 1000;

// What a run asks for, as given (payload already plain JSON).
struct ApprovalAskArgs {
  std::string kind, key, title;
  std::optional<std::string> group;
  bool once = false;
  nlohmann::json payload = nlohmann::json::object();
};

// What list takes, as given.
struct ApprovalListArgs {
  std::string kind, key, job;
  std::optional<std::string> status;
  std::optional<double> limit;
};

struct ApprovalAnswer {
  store::Approval approval;
  bool created = false;
  bool dry_run = false;  // a dry run's would-be PENDING approval (id 0)
};

class RunApprovals {
 public:
  // `store` may be null (a run without a state file): then every action fails with
  // kNoStateFile, which adapters treat as misuse.
  RunApprovals(const config::JobSpec& job, store::ApprovalStore* store, EffectLog& effects, const Redactor& redactor,
               const Clock& clock = SystemClock::instance())
      : job_(job), store_(store), effects_(effects), redactor_(redactor), clock_(clock) {}

  bool has_store() const { return store_ != nullptr; }
  static constexpr const char* kNoStateFile = "this run has no state file";

  // The ask, validated ("field 'kind' must be 1 to 256 bytes"), title and payload redacted.
  Result<store::ApprovalAsk> check_request(const ApprovalAskArgs& args) const;
  // The job's open (or with once, EXECUTED) approval for the ask, else a new PENDING one; in a
  // dry run captured, the existing one or a would-be one with id 0.
  Result<ApprovalAnswer> request(const store::ApprovalAsk& ask);

  // The query, validated ("field 'job': job a may not see ..."), limited to the job's scope.
  Result<store::ApprovalQuery> check_list(const ApprovalListArgs& args) const;
  Result<std::vector<store::Approval>> list(const store::ApprovalQuery& query);

  // Nothing when there is none or it belongs to a job out of scope.
  Result<std::optional<store::Approval>> get(int64_t id);

  // APPROVED -> `outcome` (kExecuted, kFailed, kSuperseded) with `notes` (redacted here).
  // Another job's approval is answered as a missing one. In a dry run captured, with the
  // answer the live call would give from the real record.
  Status mark(int64_t id, store::ApprovalStatus outcome, std::string_view notes);

 private:
  const config::JobSpec& job_;
  store::ApprovalStore* store_;
  EffectLog& effects_;
  const Redactor& redactor_;
  const Clock& clock_;
};

}  // namespace cronhost::api
