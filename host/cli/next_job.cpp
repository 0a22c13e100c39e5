// `cronhost next JOB`: the job's schedule, read from the jobs folder. In the host binary only:
// reading job files checks webhook URLs with libcurl, which bin/cronhost (static) must not load.
#include <iostream>

#include "cli/commands.hpp"
#include "util/did_you_mean.hpp"

namespace cronhost::cli {

JobSchedule find_job_schedule(const HostContext& context, const std::string& job) {
  auto result = config::load_jobs({context.jobs_dir}, context.load_options);
  std::vector<std::string> names;
  JobSchedule found;
  for (const auto& spec : result.jobs) {
    names.push_back(spec.name);
    if (spec.name == job) found.schedule.emplace(spec.schedule);
  }
  if (!found.schedule) {
    print_diagnostics(result.diagnostics);
    std::cerr << "cronhost: error: no valid job named '" << job << "' in " << context.jobs_dir.string()
              << did_you_mean_suffix(job, names) << "\n";
    found.exit_code = kExitUsage;
  } else if (!found.schedule->fires_by_time()) {
    std::cerr << job << " has no times of its own: it fires " << found.schedule->describe() << "\n";
    found.schedule.reset();
    found.exit_code = kExitOk;
  }
  return found;
}

}  // namespace cronhost::cli
