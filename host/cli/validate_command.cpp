// cronhost validate [PATH...] [--connect]: every problem in every job file, compiler-style.
// Table sources are checked against the host config; with --connect, also against the rows
// their queries return now.
#include <iostream>

#include "cli/commands.hpp"
#include "dispatch/table_source_query.hpp"

namespace cronhost::cli {
namespace {

// The time one source's query may take here: as long as the reader allows it at most.
constexpr std::chrono::seconds kQueryLimit{30};

// Runs the source's query and makes its rows' jobs as the running host would: a query that
// fails, a column the file uses that the query does not return, and each row left out are
// problems of the file. Says on stdout what the rows made.
void check_rows(const config::TableSource& source, const config::HostConfig& host, const config::LoadOptions& options,
                config::Diagnostics& diagnostics) {
  const auto error = [&](const std::string& pointer, std::string message) {
    diagnostics.push_back({source.file, source.written_at.at(pointer), std::move(message)});
  };
  auto rows = dispatch::query_table_source(source, host, kQueryLimit);
  if (!rows) return error("/source/query", "source.query: " + rows.message());
  const size_t before = config::error_count(diagnostics);
  config::check_source_columns(source, rows->columns, diagnostics);
  if (config::error_count(diagnostics) != before) return;
  const auto made = config::expand_table_source(source, rows.value(), options);
  const std::string prefix = source.file + ": ";
  for (const auto& problem : made.problems)
    diagnostics.push_back({source.file, source.written_at.at("/job"),
                           problem.rfind(prefix, 0) == 0 ? problem.substr(prefix.size()) : problem});
  std::cout << source.file << ": " << rows->rows.size() << (rows->rows.size() == 1 ? " row, " : " rows, ")
            << made.jobs.size() << (made.jobs.size() == 1 ? " job" : " jobs") << "\n";
}

}  // namespace

Command add_validate_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("validate", "Check job files (default: the jobs folder) and the host config");
  auto paths = std::make_shared<std::vector<std::string>>();
  auto connect = std::make_shared<bool>(false);
  cmd->add_option("paths", *paths, "Job files or folders (every *.yaml / *.yml inside)");
  cmd->add_flag("--connect", *connect,
                "Also run each table source's query on its database and check the jobs its rows make");
  cmd->footer("Prints PATH:LINE:COL: error: MESSAGE for each problem and exits 2 if there is any.");
  return [paths, connect, &common]() {
    config::Diagnostics diagnostics;
    auto context = load_host_context(common, diagnostics);
    config::LoadResult result;
    if (context) {
      std::vector<std::filesystem::path> roots(paths->begin(), paths->end());
      if (roots.empty()) roots.push_back(context->jobs_dir);
      result = config::load_jobs(roots, context->load_options);
      config::check_sources_against_host(result, context->config);
      if (*connect)
        for (const auto& source : result.sources) check_rows(source, context->config, context->load_options, result.diagnostics);
    }
    diagnostics.insert(diagnostics.end(), result.diagnostics.begin(), result.diagnostics.end());
    print_diagnostics(diagnostics);
    if (const size_t errors = config::error_count(diagnostics)) {
      std::cerr << errors << (errors == 1 ? " error" : " errors");
      if (result.files > 0) std::cerr << " in " << result.files << (result.files == 1 ? " file" : " files");
      std::cerr << "\n";
      return kExitUsage;
    }
    std::cout << result.jobs.size() << " jobs OK";
    if (!result.sources.empty())
      std::cout << ", " << result.sources.size() << (result.sources.size() == 1 ? " table source" : " table sources");
    std::cout << "\n";
    return kExitOk;
  };
}

}  // namespace cronhost::cli
