// cronhost validate [PATH...]: every problem in every job file, compiler-style.
#include <iostream>

#include "cli/commands.hpp"

namespace cronhost::cli {

Command add_validate_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("validate", "Check job files (default: the jobs folder) and the host config");
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("paths", *paths, "Job files or folders (every *.yaml / *.yml inside)");
  cmd->footer("Prints PATH:LINE:COL: error: MESSAGE for each problem and exits 2 if there is any.");
  return [paths, &common]() {
    config::Diagnostics diagnostics;
    auto context = load_host_context(common, diagnostics);
    config::LoadResult result;
    if (context) {
      std::vector<std::filesystem::path> roots(paths->begin(), paths->end());
      if (roots.empty()) roots.push_back(context->jobs_dir);
      result = config::load_jobs(roots, context->load_options);
    }
    diagnostics.insert(diagnostics.end(), result.diagnostics.begin(), result.diagnostics.end());
    print_diagnostics(diagnostics);
    if (const size_t errors = config::error_count(diagnostics)) {
      std::cerr << errors << (errors == 1 ? " error" : " errors");
      if (result.files > 0) std::cerr << " in " << result.files << (result.files == 1 ? " file" : " files");
      std::cerr << "\n";
      return kExitUsage;
    }
    std::cout << result.jobs.size() << " jobs OK\n";
    return kExitOk;
  };
}

}  // namespace cronhost::cli
