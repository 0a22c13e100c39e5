#include "config/table_source.hpp"

#include <regex>

#include "config/job_loader.hpp"
#include "util/did_you_mean.hpp"
#include "util/duration.hpp"
#include "util/percent.hpp"
#include "util/printable.hpp"

namespace cronhost::config {
namespace {

using nlohmann::json;

const std::regex kPlaceholder(R"(\{\{\s*row\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\})");
const std::regex kAnyBraces(R"(\{\{[^}]*\}\})");

json as_json(const api::DbValue& value) {
  struct Visit {
    json operator()(std::nullptr_t) const { return nullptr; }
    json operator()(bool b) const { return b; }
    json operator()(int64_t i) const { return i; }
    json operator()(double d) const { return d; }
    json operator()(const std::string& s) const { return printable(s); }
    json operator()(const api::DbBytes& b) const { return printable(b.data); }
  };
  return std::visit(Visit{}, value);
}

std::string as_text(const api::DbValue& value) {
  const json j = as_json(value);
  if (j.is_null()) return "";
  return j.is_string() ? j.get<std::string>() : j.dump();
}

// Every column the template's placeholders name.
void placeholders_in(const json& value, std::set<std::string>& columns) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    for (std::sregex_iterator it(text.begin(), text.end(), kPlaceholder), end; it != end; ++it) columns.insert((*it)[1]);
  } else if (value.is_structured()) {
    for (const auto& item : value) placeholders_in(item, columns);
  }
}

// The template with the row's values put in; "${" is written "$${" everywhere, so that the
// job loader reads no ${env:...} a row (or the template's own literal text) holds.
json filled(const json& value, const std::string& pointer, const std::map<std::string, const api::DbValue*>& row) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    std::smatch whole;
    if (std::regex_match(text, whole, kPlaceholder)) {
      json typed = as_json(*row.at(whole[1]));
      // MySQL keeps booleans as 0/1.
      if (pointer == "/enabled" && typed.is_number_integer() && (typed == 0 || typed == 1)) typed = typed == 1;
      if (typed.is_string()) typed = std::regex_replace(typed.get<std::string>(), std::regex(R"(\$\{)"), "$$${");
      return typed;
    }
    std::string out;
    auto last = text.cbegin();
    for (std::sregex_iterator it(text.begin(), text.end(), kPlaceholder), end; it != end; ++it) {
      out.append(last, (*it)[0].first);
      const std::string put = as_text(*row.at((*it)[1]));
      out += pointer == "/run/http/url" ? percent_encoded(put) : put;
      last = (*it)[0].second;
    }
    out.append(last, text.cend());
    return std::regex_replace(out, std::regex(R"(\$\{)"), "$$${");
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, item] : value.items()) out[key] = filled(item, pointer_append(pointer, key), row);
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (size_t i = 0; i < value.size(); ++i) out.push_back(filled(value[i], pointer + "/" + std::to_string(i), row));
    return out;
  }
  return value;
}

// The template's secrets stay secrets in each job: as the loader marks them in a job file.
void mark_secrets(const TableSource& source, JobSpec& spec) {
  for (const auto& pointer : source.secret_pointers) {
    if (pointer.rfind("/params/", 0) == 0) spec.secret_params.insert(pointer.substr(7));
    if (pointer.rfind("/run/http/headers/", 0) == 0 && spec.http)
      spec.http->secret_headers.insert(json::json_pointer(pointer).back());
  }
  spec.secret_values.insert(spec.secret_values.end(), source.secret_values.begin(), source.secret_values.end());
}

const std::vector<std::string> kRunFields = {"run.started_at", "run.finished_at", "run.status", "run.id",
                                             "run.duration_ms",  "job.next_fire",   "job.name"};

void read_writeback(const YamlDocument& doc, TableSource& source, Diagnostics& diagnostics) {
  const json& spec = doc.root()["writeback"];
  const auto error = [&](const std::string& pointer, const std::string& message) {
    diagnostics.push_back(doc.error_at(doc.text_position(pointer), message));
  };
  if (!spec.is_object() || !spec.contains("exec") || !spec["exec"].is_string() || spec["exec"].get<std::string>().empty()) {
    error("/writeback", "writeback: expected {exec: \"UPDATE ... WHERE id = ?\", args: [run.started_at, row.id]}");
    return;
  }
  for (const auto& [key, _] : spec.items())
    if (key != "exec" && key != "args")
      diagnostics.push_back(doc.error_at(doc.key_position(pointer_append("/writeback", key)),
                                         "writeback." + key + ": unknown key (expected exec and args)"));
  source.writeback_sql = spec["exec"].get<std::string>();
  if (!spec.contains("args")) return;
  if (!spec["args"].is_array()) return error("/writeback/args", "writeback.args: expected a list such as [run.started_at, row.id]");
  for (size_t i = 0; i < spec["args"].size(); ++i) {
    const json& arg = spec["args"][i];
    const std::string pointer = "/writeback/args/" + std::to_string(i);
    const std::string text = arg.is_string() ? arg.get<std::string>() : "";
    const bool known = std::find(kRunFields.begin(), kRunFields.end(), text) != kRunFields.end() ||
                       std::regex_match(text, std::regex(R"(row\.[A-Za-z_][A-Za-z0-9_]*)"));
    if (!known)
      error(pointer, "writeback.args[" + std::to_string(i) + "]: expected row.COLUMN or one of run.started_at, "
                     "run.finished_at, run.status, run.id, run.duration_ms, job.next_fire, job.name");
    source.writeback_args.push_back(text);
  }
}

}  // namespace

bool is_table_source(const YamlDocument& doc) { return doc.root().is_object() && doc.root().contains("source"); }

std::optional<TableSource> read_table_source(const YamlDocument& doc, const std::filesystem::path& base_dir,
                                             Diagnostics& diagnostics) {
  const size_t errors_before = error_count(diagnostics);
  const auto error = [&](const std::string& pointer, const std::string& message) {
    diagnostics.push_back(doc.error_at(doc.text_position(pointer), message));
  };
  const json& root = doc.root();
  TableSource source{.name = std::filesystem::path(doc.file()).stem().string(), .file = doc.file(), .base_dir = base_dir};
  const std::vector<std::string> top_keys = {"source", "job", "writeback"}, source_keys = {"db", "query", "every", "key"};
  for (const auto& [key, _] : root.items())
    if (std::find(top_keys.begin(), top_keys.end(), key) == top_keys.end())
      diagnostics.push_back(doc.error_at(doc.key_position(pointer_append("", key)),
                                         key + ": unknown key in a table source (expected source, job and writeback)" +
                                             did_you_mean_suffix(key, top_keys)));
  const json& spec = root["source"];
  if (!spec.is_object()) {
    error("/source", "source: expected a mapping with db, query and every");
    return std::nullopt;
  }
  for (const auto& [key, _] : spec.items())
    if (std::find(source_keys.begin(), source_keys.end(), key) == source_keys.end())
      diagnostics.push_back(doc.error_at(doc.key_position(pointer_append("/source", key)),
                                         "source." + key + ": unknown key (expected db, query, every and key)" +
                                             did_you_mean_suffix(key, source_keys)));
  const auto text_at = [&](const char* key, std::string& out, bool required) {
    const std::string pointer = std::string("/source/") + key;
    if (!spec.contains(key)) {
      if (required) error("/source", std::string("source: missing required key ") + key);
    } else if (!spec[key].is_string() || spec[key].get<std::string>().empty()) {
      error(pointer, std::string("source.") + key + ": expected a non-empty string");
    } else {
      out = spec[key].get<std::string>();
    }
  };
  text_at("db", source.db, true);
  text_at("query", source.query, true);
  text_at("key", source.key, false);
  if (spec.contains("every")) {
    auto every = spec["every"].is_string() ? parse_duration(spec["every"].get<std::string>())
                                           : Result<Millis>::error("expected a duration such as 30s");
    if (!every) error("/source/every", "source.every: " + every.message());
    else if (every.value() < std::chrono::seconds(1)) error("/source/every", "source.every: at least 1s");
    else source.every = std::chrono::duration_cast<std::chrono::milliseconds>(every.value());
  }
  if (!root.contains("job") || !root["job"].is_object()) {
    error(root.contains("job") ? "/job" : "", "job: expected the template of each row's job (a mapping)");
    return std::nullopt;
  }
  source.job_template = root["job"];
  const json* name = source.job_template.contains("name") ? &source.job_template["name"] : nullptr;
  if (!name || !name->is_string() || !std::regex_search(name->get<std::string>(), kPlaceholder))
    error(name ? "/job/name" : "/job",
          "job.name: each row's job needs its own name, e.g. \"workflow-{{row.id}}\"");
  // Braces that are not {{row.COLUMN}} are a typo: say so instead of leaving them in.
  std::function<void(const json&, const std::string&)> check = [&](const json& value, const std::string& pointer) {
    if (value.is_string()) {
      const std::string text = std::regex_replace(value.get<std::string>(), kPlaceholder, "");
      std::smatch bad;
      if (std::regex_search(text, bad, kAnyBraces))
        error(pointer, pointer_to_key(pointer) + ": " + bad.str() + " is not a placeholder (expected {{row.COLUMN}})");
    } else if (value.is_object()) {
      for (const auto& [key, item] : value.items()) check(item, pointer_append(pointer, key));
    } else if (value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i) check(value[i], pointer + "/" + std::to_string(i));
    }
  };
  check(source.job_template, "/job");
  if (root.contains("writeback")) read_writeback(doc, source, diagnostics);
  source.secret_values = doc.secret_parts();
  for (const auto& pointer : doc.secret_pointers())
    if (pointer.rfind("/job/", 0) == 0) source.secret_pointers.insert(pointer.substr(4));
  if (error_count(diagnostics) != errors_before) return std::nullopt;
  return source;
}

TableJobs expand_table_source(const TableSource& source, const api::DbRows& rows, const LoadOptions& options) {
  TableJobs out;
  std::set<std::string> wanted;
  placeholders_in(source.job_template, wanted);
  wanted.insert(source.key);
  for (const auto& arg : source.writeback_args)
    if (arg.rfind("row.", 0) == 0) wanted.insert(arg.substr(4));
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < rows.columns.size(); ++i) index.emplace(rows.columns[i], i);
  for (const auto& column : wanted)
    if (!index.count(column)) {
      std::string have;
      for (const auto& c : rows.columns) have += (have.empty() ? "" : ", ") + c;
      out.problems.push_back(source.file + ": the query returns no column '" + column + "' (it returns " +
                             (have.empty() ? "none" : have) + ")" +
                             (column == source.key ? "; source.key names the column that tells rows apart" : ""));
      return out;
    }
  std::set<std::string> names;
  for (const auto& values : rows.rows) {
    std::map<std::string, const api::DbValue*> row;
    for (const auto& column : wanted) row[column] = &values[index[column]];
    const std::string label = source.file + ": row " + source.key + "=" + printable(as_text(*row[source.key]), 64);
    Diagnostics diagnostics;
    const std::string definition = filled(source.job_template, "", row).dump();
    auto spec = load_job_text(source.file, definition, source.base_dir, options, diagnostics);
    if (!spec) {
      std::string why;
      for (const auto& d : diagnostics)
        if (d.is_error()) why += (why.empty() ? "" : "; ") + d.message;
      out.problems.push_back(label + ": " + why);
      continue;
    }
    if (!names.insert(spec->name).second) {
      out.problems.push_back(label + ": the job name " + spec->name + " is made by an earlier row too; this row is left out");
      continue;
    }
    mark_secrets(source, *spec);
    if (!source.writeback_sql.empty()) {
      spec->writeback = Writeback{source.db, source.writeback_sql, {}};
      for (const auto& arg : source.writeback_args)
        spec->writeback->args.push_back(arg.rfind("row.", 0) == 0 ? WritebackArg{"", as_json(*row.at(arg.substr(4)))}
                                                                  : WritebackArg{arg, nullptr});
    }
    std::string shown = definition;  // with the row's writeback values: a change there is a change too
    if (spec->writeback)
      for (const auto& arg : spec->writeback->args) shown += "\n" + (arg.field.empty() ? arg.value.dump() : arg.field);
    out.jobs.push_back(std::move(*spec));
    out.definitions.push_back(std::move(shown));
  }
  return out;
}

}  // namespace cronhost::config
