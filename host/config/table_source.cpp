#include "config/table_source.hpp"

#include <cstring>
#include <regex>
#include <unordered_map>

#include "api/sql_text.hpp"
#include "config/job_loader.hpp"
#include "config/schema_check.hpp"
#include "util/did_you_mean.hpp"
#include "util/duration.hpp"
#include "util/percent.hpp"
#include "util/printable.hpp"

namespace cronhost::config {
namespace {

using nlohmann::json;

// Compiled when first used, not at every process start: a one-shot `cronhost next` spent a
// twentieth of its time compiling these.
const std::regex& placeholder() {
  static const std::regex re(R"(\{\{\s*row\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\})");
  return re;
}
const std::regex& any_braces() {
  static const std::regex re(R"(\{\{[^}]*\}\})");
  return re;
}

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

struct PlaceholderAt {
  size_t begin, end;  // of the whole {{row.COLUMN}}
  std::string_view column;
};

// The {{row.COLUMN}} in `text` (blanks allowed inside the braces), as placeholder() finds them.
// By hand, not std::regex: this runs on every string of every row at each read, and a regex
// made rendering 10,000 rows cost more than the query.
std::vector<PlaceholderAt> placeholders_of(std::string_view text) {
  const auto blank = [&](size_t i) { return i < text.size() && std::strchr(" \t\n\r\f\v", text[i]) && text[i]; };
  const auto word = [&](size_t i, bool first) {
    if (i >= text.size()) return false;
    const char c = text[i];
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
  };
  std::vector<PlaceholderAt> out;
  for (size_t at = text.find("{{"); at != std::string_view::npos; at = text.find("{{", at + 1)) {
    size_t i = at + 2;
    while (blank(i)) ++i;
    if (text.substr(i, 4) != "row." || !word(i + 4, true)) continue;
    const size_t name = i += 4;
    while (word(i, false)) ++i;
    const std::string_view column = text.substr(name, i - name);
    while (blank(i)) ++i;
    if (text.substr(i, 2) != "}}") continue;
    out.push_back({at, i + 2, column});
    at = i + 1;
  }
  return out;
}

// "${" written "$${": the job loader then reads no ${env:...} in it.
std::string without_interpolation(std::string text) {
  for (size_t at = text.find("${"); at != std::string::npos; at = text.find("${", at + 3)) text.insert(at, "$");
  return text;
}

// Every column the template's placeholders name.
void placeholders_in(const json& value, std::set<std::string>& columns) {
  if (value.is_string()) {
    for (const auto& p : placeholders_of(value.get_ref<const std::string&>())) columns.emplace(p.column);
  } else if (value.is_structured()) {
    for (const auto& item : value) placeholders_in(item, columns);
  }
}

// One row's values by column name.
struct RowValues {
  const std::map<std::string, size_t, std::less<>>& index;
  const std::vector<api::DbValue>& values;
  const api::DbValue& at(std::string_view column) const { return values[index.find(column)->second]; }
};

// The template with the row's values put in; "${" is written "$${" everywhere, so that the
// job loader reads no ${env:...} a row (or the template's own literal text) holds.
json filled(const json& value, const std::string& pointer, const RowValues& row) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    const auto found = placeholders_of(text);
    if (found.size() == 1 && found[0].begin == 0 && found[0].end == text.size()) {
      json typed = as_json(row.at(found[0].column));
      // MySQL keeps booleans as 0/1.
      if (pointer == "/enabled" && typed.is_number_integer() && (typed == 0 || typed == 1)) typed = typed == 1;
      if (typed.is_string()) typed = without_interpolation(typed.get<std::string>());
      return typed;
    }
    std::string out;
    size_t last = 0;
    for (const auto& p : found) {
      out.append(text, last, p.begin - last);
      const std::string put = as_text(row.at(p.column));
      out += pointer == "/run/http/url" ? percent_encoded(put) : put;
      last = p.end;
    }
    out.append(text, last);
    return without_interpolation(std::move(out));
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

// What a whole placeholder stands for while the template's shape is checked: a value of the
// kind the job wants there, so the checks of the values around it can run.
json sample_for(const std::string& pointer) {
  static const std::map<std::string, json> kKnown = {
      {"/schedule/cron", "0 0 * * *"},  {"/schedule/timezone", "UTC"},
      {"/schedule/every", "1h"},        {"/schedule/at", "2100-01-01T00:00:00Z"},
      {"/schedule/anchor", "2026-01-01T00:00:00Z"}, {"/run/http/url", "https://row.invalid/"}};
  if (auto it = kKnown.find(pointer); it != kKnown.end()) return it->second;
  const json* schema = SchemaCheck::job().subschema_at(pointer);
  const json type = schema && schema->contains("type") ? (*schema)["type"] : json("string");
  const auto is = [&](const char* name) { return type == name || (type.is_array() && type.front() == name); };
  if (is("boolean")) return true;
  if (is("integer") || is("number")) return 1;
  if (schema && schema->value("x-expected", "").find("duration") != std::string::npos) return "1m";
  return "1";
}

// The template with sample values in: a whole placeholder takes sample_for, text around one
// takes "1" in its place. `from_rows` collects the pointers whose value a row decides.
json sampled(const json& value, const std::string& pointer, std::set<std::string>& from_rows) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (!std::regex_search(text, placeholder())) return value;
    from_rows.insert(pointer);
    if (std::regex_match(text, placeholder())) return sample_for(pointer);
    return std::regex_replace(text, placeholder(), "1");
  }
  json out = value;
  if (value.is_object())
    for (const auto& [key, item] : value.items()) out[key] = sampled(item, pointer_append(pointer, key), from_rows);
  if (value.is_array())
    for (size_t i = 0; i < value.size(); ++i) out[i] = sampled(value[i], pointer + "/" + std::to_string(i), from_rows);
  return out;
}

// The template's shape against the job schema and reader, before any row exists. A problem
// written inside a value a row fills in may be the sample's, not the template's: left to the
// rows (each bad row is reported when it is read).
void check_template_shape(const YamlDocument& doc, const TableSource& source, const LoadOptions& options,
                          Diagnostics& diagnostics) {
  std::set<std::string> from_rows;
  const YamlDocument job = doc.part("/job", sampled(source.job_template, "", from_rows));
  Diagnostics found;
  load_job_document(job, source.base_dir, options, found);
  for (auto& d : found) {
    const bool in_row_value = std::any_of(from_rows.begin(), from_rows.end(), [&](const std::string& pointer) {
      const Position start = job.value_position(pointer);
      const size_t width = source.job_template.at(json::json_pointer(pointer)).get_ref<const std::string&>().size() + 2;
      return d.position.line == start.line && d.position.column >= start.column &&
             d.position.column <= start.column + static_cast<int>(width);
    });
    if (!in_row_value) diagnostics.push_back(std::move(d));
  }
}

// Each column the file uses, where: the template's placeholders, the writeback's row.COLUMN
// arguments and source.key.
void find_columns(const YamlDocument& doc, const json& value, const std::string& pointer, TableSource& source) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    for (std::sregex_iterator it(text.begin(), text.end(), placeholder()), end; it != end; ++it)
      source.columns.push_back({(*it)[1], pointer, doc.text_position(pointer, static_cast<size_t>(it->position()))});
  } else if (value.is_object()) {
    for (const auto& [key, item] : value.items()) find_columns(doc, item, pointer_append(pointer, key), source);
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) find_columns(doc, value[i], pointer + "/" + std::to_string(i), source);
  }
}

// PostgreSQL's identifiers: the channel is written into LISTEN as a quoted identifier.
const std::regex& channel_name() {
  static const std::regex re(R"([A-Za-z_][A-Za-z0-9_]{0,62})");
  return re;
}

}  // namespace

bool is_table_source(const YamlDocument& doc) { return doc.root().is_object() && doc.root().contains("source"); }

std::optional<TableSource> read_table_source(const YamlDocument& doc, const std::filesystem::path& base_dir,
                                             const LoadOptions& options, Diagnostics& diagnostics) {
  const size_t errors_before = error_count(diagnostics);
  const auto error = [&](const std::string& pointer, const std::string& message) {
    diagnostics.push_back(doc.error_at(doc.text_position(pointer), message));
  };
  const json& root = doc.root();
  TableSource source{.name = std::filesystem::path(doc.file()).stem().string(), .file = doc.file(), .base_dir = base_dir};
  const std::vector<std::string> top_keys = {"source", "job", "writeback"}, source_keys = {"db", "query", "every", "key", "listen"};
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
                                         "source." + key + ": unknown key (expected db, query, every, key and listen)" +
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
  text_at("listen", source.listen, false);
  if (!source.listen.empty() && !std::regex_match(source.listen, channel_name()))
    error("/source/listen", "source.listen: '" + printable(source.listen, 64) +
                                "' is not a channel name (expected letters, digits and _, at most 63, such as "
                                "workflow_schedules_changed)");
  for (const char* pointer : {"/source/db", "/source/query", "/source/listen", "/source/key", "/writeback/exec", "/job"})
    source.written_at[pointer] = doc.text_position(pointer);
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
  if (!name || !name->is_string() || !std::regex_search(name->get<std::string>(), placeholder()))
    error(name ? "/job/name" : "/job",
          "job.name: each row's job needs its own name, e.g. \"workflow-{{row.id}}\"");
  // Braces that are not {{row.COLUMN}} are a typo: say so instead of leaving them in.
  std::function<void(const json&, const std::string&)> check = [&](const json& value, const std::string& pointer) {
    if (value.is_string()) {
      const std::string text = std::regex_replace(value.get<std::string>(), placeholder(), "");
      std::smatch bad;
      if (std::regex_search(text, bad, any_braces()))
        error(pointer, pointer_to_key(pointer) + ": " + bad.str() + " is not a placeholder (expected {{row.COLUMN}})");
    } else if (value.is_object()) {
      for (const auto& [key, item] : value.items()) check(item, pointer_append(pointer, key));
    } else if (value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i) check(value[i], pointer + "/" + std::to_string(i));
    }
  };
  check(source.job_template, "/job");
  if (root.contains("writeback")) read_writeback(doc, source, diagnostics);
  if (error_count(diagnostics) == errors_before) check_template_shape(doc, source, options, diagnostics);
  find_columns(doc, source.job_template, "/job", source);
  for (size_t i = 0; i < source.writeback_args.size(); ++i)
    if (source.writeback_args[i].rfind("row.", 0) == 0) {
      const std::string pointer = "/writeback/args/" + std::to_string(i);
      source.columns.push_back({source.writeback_args[i].substr(4), pointer, doc.text_position(pointer)});
    }
  source.columns.push_back({source.key, "/source/key", doc.text_position(spec.contains("key") ? "/source/key" : "/source")});
  source.secret_values = doc.secret_parts();
  for (const auto& pointer : doc.secret_pointers())
    if (pointer.rfind("/job/", 0) == 0) source.secret_pointers.insert(pointer.substr(4));
  if (error_count(diagnostics) != errors_before) return std::nullopt;
  return source;
}

void check_source_against_host(const TableSource& source, const HostConfig& host, Diagnostics& diagnostics) {
  const auto error = [&](const std::string& pointer, const std::string& message) {
    diagnostics.push_back({source.file, source.written_at.at(pointer), message, Diagnostic::Severity::kError});
  };
  auto db = host.databases.find(source.db);
  if (db == host.databases.end()) {
    std::vector<std::string> names;
    for (const auto& [name, _] : host.databases) names.push_back(name);
    std::string have;
    for (const auto& name : names) have += (have.empty() ? "" : ", ") + name;
    error("/source/db", "source.db: no database named '" + source.db + "' in the host config's databases: (it has " +
                            (have.empty() ? "none" : have) + ")" + did_you_mean_suffix(source.db, names));
    return;
  }
  const DbEngine engine = db->second.engine;
  if (!source.listen.empty() && engine != DbEngine::kPostgresql)
    error("/source/listen", "source.listen: LISTEN/NOTIFY is PostgreSQL's; the database '" + source.db + "' is " +
                                (engine == DbEngine::kMysql ? "MySQL/MariaDB" : "SQLite") +
                                " (leave listen out: every: re-reads it)");
  if (!source.writeback_sql.empty()) {
    const auto text = api::scan_sql(source.writeback_sql,
                                    engine == DbEngine::kMysql ? api::SqlDialect::kMysql : api::SqlDialect::kPostgres);
    const size_t given = source.writeback_args.size();
    if (text.problem.empty() && static_cast<size_t>(text.placeholders) != given)
      error("/writeback/exec", "writeback.exec: the statement has " + std::to_string(text.placeholders) +
                                   (text.placeholders == 1 ? " placeholder (?)" : " placeholders (?)") +
                                   " but writeback.args gives " + std::to_string(given) +
                                   (given == 1 ? " value" : " values"));
  }
}

void check_sources_against_host(LoadResult& result, const HostConfig& host) {
  std::erase_if(result.sources, [&](const TableSource& source) {
    const size_t before = error_count(result.diagnostics);
    check_source_against_host(source, host, result.diagnostics);
    return error_count(result.diagnostics) != before;
  });
}

void check_source_columns(const TableSource& source, const std::vector<std::string>& columns, Diagnostics& diagnostics) {
  std::string have;
  for (const auto& c : columns) have += (have.empty() ? "" : ", ") + c;
  std::set<std::string> reported;
  for (const auto& use : source.columns) {
    if (std::find(columns.begin(), columns.end(), use.column) != columns.end() || !reported.insert(use.column).second)
      continue;
    diagnostics.push_back({source.file, use.at,
                           pointer_to_key(use.pointer) + ": the query returns no column '" + use.column +
                               "' (it returns " + (have.empty() ? "none" : have) + ")" +
                               did_you_mean_suffix(use.column, columns),
                           Diagnostic::Severity::kError});
  }
}

TableJobs expand_table_source(const TableSource& source, const api::DbRows& rows, const LoadOptions& options,
                              const TableJobs* previous) {
  TableJobs out;
  std::set<std::string> wanted;
  placeholders_in(source.job_template, wanted);
  wanted.insert(source.key);
  for (const auto& arg : source.writeback_args)
    if (arg.rfind("row.", 0) == 0) wanted.insert(arg.substr(4));
  std::map<std::string, size_t, std::less<>> index;
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
  // The last read's jobs by definition: a row that fills in the template as it did then keeps its job.
  std::unordered_map<std::string_view, size_t> before;
  if (previous)
    for (size_t i = 0; i < previous->definitions.size(); ++i) before.emplace(previous->definitions[i], i);
  std::set<std::string> names;
  for (const auto& values : rows.rows) {
    const RowValues row{index, values};
    const std::string definition = filled(source.job_template, "", row).dump();
    // With the row's writeback values: a change there is a change too.
    std::string shown = definition;
    std::vector<WritebackArg> writeback_args;
    for (const auto& arg : source.writeback_args) {
      writeback_args.push_back(arg.rfind("row.", 0) == 0 ? WritebackArg{"", as_json(row.at(std::string_view(arg).substr(4)))}
                                                         : WritebackArg{arg, nullptr});
      shown += "\n" + (writeback_args.back().field.empty() ? writeback_args.back().value.dump() : arg);
    }
    std::shared_ptr<const JobSpec> job;
    if (auto it = before.find(shown); it != before.end()) {
      job = previous->jobs[it->second];
    } else {
      Diagnostics diagnostics;
      auto spec = load_job_text(source.file, definition, source.base_dir, options, diagnostics);
      if (!spec) {
        std::string why;
        for (const auto& d : diagnostics)
          if (d.is_error()) why += (why.empty() ? "" : "; ") + d.message;
        out.problems.push_back(source.file + ": row " + source.key + "=" + printable(as_text(row.at(source.key)), 64) +
                               ": " + why);
        continue;
      }
      mark_secrets(source, *spec);
      if (!source.writeback_sql.empty()) spec->writeback = Writeback{source.db, source.writeback_sql, std::move(writeback_args)};
      job = std::make_shared<const JobSpec>(std::move(*spec));
      ++out.built;
    }
    if (!names.insert(job->name).second) {
      out.problems.push_back(source.file + ": row " + source.key + "=" + printable(as_text(row.at(source.key)), 64) +
                             ": the job name " + job->name + " is made by an earlier row too; this row is left out");
      continue;
    }
    out.jobs.push_back(std::move(job));
    out.definitions.push_back(std::move(shown));
  }
  return out;
}

}  // namespace cronhost::config
