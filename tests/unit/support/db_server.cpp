// See db_server.hpp.
#include "db_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace cronhost::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kScript = CRONHOST_SOURCE_DIR "/tests/support/dbserver.py";
// The supervisor's own bound on readiness is 60 s (dbserver.START_TIMEOUT); this one only
// guards against a supervisor that hangs.
constexpr double kStartSeconds = 120;
constexpr double kStopSeconds = 30;
constexpr double kClientSeconds = 30;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// The environment of this process with `overrides` set (an empty value removes the name).
std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    if (overrides.count(text.substr(0, text.find('='))) == 0) env.push_back(text);
  }
  for (const auto& [name, value] : overrides)
    if (!value.empty()) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    // O_CLOEXEC: no other child of the test process holds our ends (a held stdin end would
    // keep a supervisor alive after we died)
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(errno_text("pipe2"));
    read = fds[0];
    write = fds[1];
  }
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// posix_spawn of argv with the given stdin/stdout/stderr (-1: inherit) -> pid.
pid_t spawn(std::vector<std::string> argv, std::vector<std::string> env, int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in >= 0) posix_spawn_file_actions_adddup2(&actions, in, 0);
  if (out >= 0) posix_spawn_file_actions_adddup2(&actions, out, 1);
  if (err >= 0) posix_spawn_file_actions_adddup2(&actions, err, 2);
  auto args = c_strings(argv);
  auto envp = c_strings(env);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(argv[0] + ": posix_spawn: " + std::strerror(rc));
  return pid;
}

// Waits for pid until the deadline -> its wait status, or nullopt on timeout.
std::optional<int> wait_until(pid_t pid, Clock::time_point deadline) {
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return 0;  // not ours any more
    if (Clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

DbServerInfo parse_info(const nlohmann::json& j) {
  DbServerInfo info;
  auto text = [&](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
  info.kind = text("kind");
  info.host = text("host");
  info.port = j.at("port").get<int>();
  info.user = text("user");
  info.password = text("password");
  info.database = text("database");
  info.url = text("url");
  info.socket = text("socket");
  info.socket_dir = text("socket_dir");
  info.superuser = text("superuser");
  info.superuser_password = text("superuser_password");
  info.ca = text("ca");
  info.dir = text("dir");
  info.pid = j.at("pid").get<pid_t>();
  info.startup_seconds = j.value("startup_seconds", 0.0);
  return info;
}

}  // namespace

ClientResult run_client(const DbServerInfo& server, const std::string& statement, DbLogin login) {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  const bool app = login == DbLogin::app_user;
  if (server.kind == "postgres") {
    std::string conninfo = app ? "host=127.0.0.1 port=" + std::to_string(server.port) + " user=" + server.user
                               : "host=" + server.socket + " port=" + std::to_string(server.port) + " user=" + server.superuser;
    conninfo += " dbname=" + server.database;
    if (app) conninfo += server.ca.empty() ? " sslmode=disable" : " sslmode=verify-full sslrootcert=" + server.ca;
    argv = {"/usr/bin/psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", statement};
    env = {{"PGPASSWORD", app ? server.password : ""}, {"PGCONNECT_TIMEOUT", "10"}, {"PGSSLMODE", ""},
           {"PGSERVICE", ""}, {"PGPASSFILE", ""}};
  } else {
    argv = {"/usr/bin/mariadb", "--no-defaults", "--batch", "--skip-column-names", "--connect-timeout=10"};
    if (app) {
      argv.insert(argv.end(), {"--protocol=tcp", "-h", "127.0.0.1", "-P", std::to_string(server.port), "-u", server.user});
      if (!server.ca.empty()) argv.insert(argv.end(), {"--ssl-ca=" + server.ca, "--ssl-verify-server-cert"});
    } else {
      argv.insert(argv.end(), {"--protocol=socket", "-S", server.socket, "-u", server.superuser});
    }
    argv.insert(argv.end(), {"-D", server.database, "-e", statement});
    env = {{"MYSQL_PWD", app ? server.password : server.superuser_password}};
  }

  Pipe out, err;
  const pid_t pid = spawn(argv, environment_with(env), -1, out.write, err.write);
  close_fd(out.write);
  close_fd(err.write);
  ClientResult result;
  pollfd fds[2] = {{out.read, POLLIN, 0}, {err.read, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  const auto deadline = after(kClientSeconds);
  int open = 2;
  while (open > 0 && Clock::now() < deadline) {
    if (poll(fds, 2, 100) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  auto status = wait_until(pid, after(open > 0 ? 0 : kClientSeconds));
  if (!status) {
    ::kill(pid, SIGKILL);
    status = wait_until(pid, after(kStopSeconds));
    result.err += "\n(killed after " + std::to_string(static_cast<int>(kClientSeconds)) + " s)";
    return result;
  }
  result.exit_code = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
  return result;
}

DbServer::DbServer(DbKind kind, DbServerOptions options) {
  std::vector<std::string> argv = {kPython, kScript, "start", kind == DbKind::postgres ? "postgres" : "mariadb",
                                   "--exit-on-stdin-eof"};
  if (options.tls) argv.push_back("--tls");
  if (!options.auth.empty()) argv.insert(argv.end(), {"--auth", options.auth});
  Pipe in, out;
  try {
    supervisor_ = spawn(argv, environment_with({}), in.read, out.write, -1);
  } catch (...) {
    for (int fd : {in.read, in.write, out.read, out.write}) ::close(fd);
    throw;
  }
  ::close(in.read);
  ::close(out.write);
  to_supervisor_ = in.write;
  from_supervisor_ = out.read;
  try {
    const auto line = nlohmann::json::parse(read_line(kStartSeconds));
    if (line.contains("error")) throw std::runtime_error(line["error"].get<std::string>());
    info_ = parse_info(line);
  } catch (const std::exception& e) {
    shut_down();
    throw std::runtime_error(std::string("DbServer: ") + e.what());
  }
}

DbServer::~DbServer() { shut_down(); }

void DbServer::shut_down() {
  if (supervisor_ > 0) {
    close_fd(to_supervisor_);  // end of its stdin: it stops the server and removes the folder
    ::kill(supervisor_, SIGTERM);
    if (!wait_until(supervisor_, after(kStopSeconds))) {
      ::kill(supervisor_, SIGKILL);  // the server dies with it (PR_SET_PDEATHSIG)
      wait_until(supervisor_, after(kStopSeconds));
      std::error_code ignored;
      if (!info_.dir.empty()) std::filesystem::remove_all(info_.dir, ignored);
    }
    supervisor_ = -1;
  }
  close_fd(to_supervisor_);
  close_fd(from_supervisor_);
}

DbServer& DbServer::shared(DbKind kind) {
  static std::unique_ptr<DbServer> servers[2];
  auto& server = servers[kind == DbKind::postgres ? 0 : 1];
  if (!server) server = std::make_unique<DbServer>(kind);
  return *server;
}

std::string DbServer::sql(const std::string& statement) const {
  auto result = run_client(info_, statement, DbLogin::superuser);
  if (result.exit_code != 0)
    throw std::runtime_error(info_.kind + ": " + statement + ": " + result.err);
  return result.out;
}

void DbServer::kill() {
  ::kill(supervisor_, SIGUSR1);
  expect_event("killed");
}

void DbServer::restart() {
  ::kill(supervisor_, SIGUSR2);
  expect_event("started");
}

void DbServer::expect_event(const std::string& event) {
  const auto line = nlohmann::json::parse(read_line(kStartSeconds));
  if (line.value("event", "") != event)
    throw std::runtime_error("DbServer: expected event " + event + ", got " + line.dump());
  if (line.contains("pid")) info_.pid = line["pid"].get<pid_t>();
}

std::string DbServer::read_line(double timeout_seconds) {
  const auto deadline = after(timeout_seconds);
  for (;;) {
    if (const auto end = pending_.find('\n'); end != std::string::npos) {
      std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw std::runtime_error("no answer from dbserver.py within " + std::to_string(timeout_seconds) + " s");
    pollfd fd = {from_supervisor_, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(left)) < 0 && errno != EINTR) throw std::runtime_error(errno_text("poll"));
    if (fd.revents == 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(from_supervisor_, buffer, sizeof buffer);
    if (n == 0) throw std::runtime_error("dbserver.py exited before answering (its stderr is above)");
    if (n < 0 && errno != EINTR) throw std::runtime_error(errno_text("read"));
    if (n > 0) pending_.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace cronhost::test
