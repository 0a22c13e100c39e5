// cronhost next JOB | --expr EXPR: the next N fire times, one RFC 3339 line each. A job's
// schedule is looked up by next_job.cpp, in the host binary only (see commands.hpp).
#include <iostream>

#include "cli/commands.hpp"
#include "schedule/cron_next.hpp"
#include "schedule/cron_parser.hpp"
#include "schedule/zone_format.hpp"

namespace cronhost::cli {

namespace {

struct NextOptions {
  std::string job;
  std::string expr;
  std::string tz;
  std::string name;
  std::string from;
  int count = 5;
};

int fail(const std::string& message) {
  std::cerr << "cronhost: error: " << message << "\n";
  return kExitUsage;
}

// The expression with a caret under the problem, as compilers do.
std::string caret(std::string_view text, size_t offset) {
  if (text.size() > 200) return "";
  return "  " + std::string(text) + "\n  " + std::string(std::min(offset, text.size()), ' ') + "^\n";
}

int print_fires(const schedule::Schedule& schedule, Instant from, int count) {
  auto next = schedule.next(from);
  if (!next) return fail("the schedule never fires after " + schedule::format_in_zone(from, schedule.zone()));
  for (int i = 0; i < count && next; ++i) {
    std::cout << schedule::format_in_zone(*next, schedule.zone()) << "\n";
    next = schedule.next(*next);
  }
  return kExitOk;
}

}  // namespace

Command add_next_command(CLI::App& app, const CommonOptions& common, FindJobSchedule find_job) {
  auto options = std::make_shared<NextOptions>();
  auto* cmd = app.add_subcommand("next", "Print the next fire times of a job or of a cron expression");
  cmd->add_option("job", options->job, "A job name from the jobs folder");
  cmd->add_option("-n", options->count, "How many fire times (default 5)")->check(CLI::Range(1, 100000));
  cmd->add_option("--from", options->from,
                  "Start after this RFC 3339 time (default now); without an offset it is read in the job's zone");
  auto* expr = cmd->add_option("--expr", options->expr, "A cron expression instead of a job");
  cmd->add_option("--tz", options->tz, "Time zone for --expr (default: the host's, else UTC)")->needs(expr);
  cmd->add_option("--name", options->name, "Job name that seeds H in --expr")->needs(expr);
  cmd->footer("Fire times are strictly after --from and printed with the zone's offset at each instant.");
  return [cmd, options, &common, find_job]() -> int {
    const bool by_expr = !options->expr.empty() || cmd->count("--expr");
    // The host config gives a job's folder and --expr's default zone; an expression with its
    // own zone needs neither, so the config is not read (half of a one-shot `next`'s time).
    HostContext context;
    if (!by_expr || options->tz.empty() || !common.config_path.empty()) {
      config::Diagnostics diagnostics;
      auto loaded = load_host_context(common, diagnostics);
      if (!loaded) {
        print_diagnostics(diagnostics);
        return kExitUsage;
      }
      context = std::move(*loaded);
    }
    std::optional<schedule::Schedule> schedule;
    if (by_expr) {
      if (!options->job.empty()) return fail("give a JOB or --expr, not both");
      auto zone = context.config.timezone;
      if (!options->tz.empty()) {
        auto loaded = schedule::Zone::load(options->tz);
        if (!loaded) return fail("--tz: " + loaded.message());
        zone = loaded.value();
      }
      schedule::CronParseError error;
      auto parsed = schedule::parse_cron(options->expr, options->name, &error);
      if (!parsed) {
        std::cerr << "cronhost: error: " << error.message << "\n" << caret(options->expr, error.offset);
        return kExitUsage;
      }
      schedule.emplace(schedule::CronTimes{{options->expr}, {*parsed}}, zone);
    } else {
      if (options->job.empty()) return fail("give a JOB name or --expr \"EXPR\" (see cronhost next --help)");
      if (!find_job) return fail("`next JOB` is answered by the host binary");  // main.cpp hands it over
      JobSchedule found = find_job(context, options->job);
      if (!found.schedule) return found.exit_code;
      schedule = std::move(found.schedule);
    }
    Instant from = context.load_options.now;
    if (!options->from.empty()) {
      auto written = parse_rfc3339(options->from);
      if (!written) return fail("--from: " + written.message());
      if (written->offset_seconds) {
        from = written->instant();
      } else {
        const schedule::Civil c{written->year, written->month, written->day, written->hour, written->minute,
                                written->second};
        from = Instant(std::chrono::seconds(schedule::resolve_local(c, schedule->zone())));
      }
    }
    return print_fires(*schedule, from, options->count);
  };
}

}  // namespace cronhost::cli
