#include "api/tool_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <zlib.h>

#include "api/file_ops.hpp"

namespace cronhost::api {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// 256 KiB: as gzip_file (api/file_ops.cpp), a chunk costs zlib far more than the system calls.
constexpr size_t kChunkBytes = size_t{256} << 10;
// How often a tool that prints nothing is checked against the deadline and cancel.
constexpr int kPollMs = 100;

std::string errno_text(int error) { return std::generic_category().message(error); }

// The output file: the tool's bytes as they are, or gzip-compressed on the fly.
class OutputFile {
 public:
  OutputFile(TempFile file, bool gzip) : file_(std::move(file)), gzip_(gzip) {}
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (z_started_) deflateEnd(&z_);
  }
  // zlib keeps a pointer to its z_stream: started in place, never moved after.
  Status start() {
    // windowBits 15 + 16: a gzip header and trailer, so gunzip and zcat read the result.
    if (gzip_ && deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      return Status::error("zlib could not start");
    z_started_ = gzip_;
    return Status::ok();
  }

  Status write(std::string_view data) { return gzip_ ? deflate_chunk(data, Z_NO_FLUSH) : put(data); }
  // Ends the gzip stream, syncs and renames into place.
  Status commit() {
    if (gzip_)
      if (auto ended = deflate_chunk({}, Z_FINISH); !ended) return ended;
    return file_.commit();
  }
  uintmax_t bytes() const { return bytes_; }

 private:
  Status put(std::string_view data) {
    bytes_ += data.size();
    return file_.write(data);
  }
  Status deflate_chunk(std::string_view data, int flush) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z_.avail_in = static_cast<uInt>(data.size());
    do {  // deflate until it leaves room in the output: then it has taken all the input
      z_.next_out = buffer_;
      z_.avail_out = sizeof buffer_;
      deflate(&z_, flush);
      if (auto written = put({reinterpret_cast<const char*>(buffer_), sizeof buffer_ - z_.avail_out}); !written)
        return written;
    } while (z_.avail_out == 0);
    return Status::ok();
  }

  TempFile file_;
  bool gzip_ = false;
  z_stream z_{};
  bool z_started_ = false;
  uintmax_t bytes_ = 0;
  unsigned char buffer_[64 << 10];
};

// A 0700 folder of its own holding the MySQL option file (0600), removed with this.
class PrivateOptionFile {
 public:
  ~PrivateOptionFile() {
    if (!file_.empty()) ::unlink(file_.c_str());
    if (!folder_.empty()) ::rmdir(folder_.c_str());
  }
  Status write(const std::string& text) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/cronhost-dump-XXXXXX";
    if (!::mkdtemp(pattern.data())) return Status::error("cannot make a private temp folder: " + errno_text(errno));
    folder_ = pattern;
    file_ = folder_ + "/client.cnf";
    const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return Status::error("cannot write the option file: " + errno_text(errno));
    std::string_view rest = text;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ::close(fd);
        return Status::error("cannot write the option file: " + errno_text(errno));
      }
      rest.remove_prefix(static_cast<size_t>(n));
    }
    ::close(fd);
    return Status::ok();
  }
  const std::string& path() const { return file_; }

 private:
  std::string folder_, file_;
};

struct Pipe {
  int read = -1, write = -1;
  ~Pipe() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
  bool open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read = fds[0];
    write = fds[1];
    return true;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// In the child, between fork and exec: async-signal-safe calls only (no allocation, no locks).
[[noreturn]] void exec_child(const char* program, char* const* argv, char* const* envp, int stdin_fd, int stdout_fd,
                             int stderr_fd, int report_fd, pid_t parent) {
  ::setpgid(0, 0);  // its own group, so a stop reaches pg_dump's workers too
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before the line above
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the host blocks SIGHUP/SIGTERM for sigwait
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &defaults, nullptr);
  // All four above 3 first (a host started with 0, 1 or 2 closed may have given a pipe one of
  // those numbers), so no dup2 below overwrites another's source or meets itself.
  const int in = ::fcntl(stdin_fd, F_DUPFD, 10), out = ::fcntl(stdout_fd, F_DUPFD, 10);
  const int err = ::fcntl(stderr_fd, F_DUPFD, 10), report = ::fcntl(report_fd, F_DUPFD, 10);
  if (in < 0 || out < 0 || err < 0 || report < 0) ::_exit(127);
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(127);
  if (::dup2(report, 3) < 0 || ::fcntl(3, F_SETFD, FD_CLOEXEC) != 0) ::_exit(127);
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  ::execve(program, argv, envp);
  const int error = errno;
  [[maybe_unused]] ssize_t ignored = ::write(3, &error, sizeof error);
  ::_exit(127);
}

// The tail of the tool's stderr, redacted (a password could be in an error the server echoes).
std::string stderr_tail(std::string text, const ToolCommand& command, const Redactor* redactor) {
  if (redactor) text = redactor->apply(text);
  for (const auto& secret : command.secrets)
    for (size_t at = secret.empty() ? std::string::npos : text.find(secret); at != std::string::npos;
         at = text.find(secret, at + 3))
      text.replace(at, secret.size(), "***");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.size() > kStderrKept) text = "..." + text.substr(text.size() - kStderrKept);
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

}  // namespace

Result<fs::path> find_tool(DumpTool tool) {
  const std::vector<fs::path> candidates =
      tool == DumpTool::kPgDump
          ? std::vector<fs::path>{"/usr/lib/postgresql/15/bin/pg_dump", "/usr/bin/pg_dump"}
          : std::vector<fs::path>{"/usr/bin/mariadb-dump", "/usr/bin/mysqldump"};
  for (const auto& path : candidates)
    if (::access(path.c_str(), X_OK) == 0) return path;
  std::string looked;
  for (const auto& path : candidates) looked += (looked.empty() ? "" : ", ") + path.string();
  return Result<fs::path>::error(
      std::string(tool == DumpTool::kPgDump ? "pg_dump" : "mariadb-dump or mysqldump") +
      " is not installed (looked for " + looked + "; Debian: " +
      (tool == DumpTool::kPgDump ? "postgresql-client-15" : "mariadb-client") + ")");
}

std::string command_line(const fs::path& program, const std::vector<std::string>& args) {
  auto quoted = [](const std::string& arg) {
    if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,@+") ==
                            std::string::npos)
      return arg;
    std::string out = "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string line = program.string();
  for (const auto& arg : args) line += " " + quoted(arg);
  return line;
}

Result<ToolOutput> run_tool(const ToolCommand& command, int dest_folder, const std::string& dest_name, bool gzip,
                            const ToolLimits& limits, const OutputObserver& observe) {
  using R = Result<ToolOutput>;
  auto program = find_tool(command.tool);
  if (!program) return R::error(program.message());
  const std::string tool_name = program.value().filename().string();

  PrivateOptionFile option_file;
  std::vector<std::string> args;
  if (!command.option_file.empty()) {
    if (auto written = option_file.write(command.option_file); !written) return R::error(tool_name + ": " + written.message());
    args.push_back("--defaults-extra-file=" + option_file.path());  // must come first
  }
  args.insert(args.end(), command.args.begin(), command.args.end());

  auto temp = TempFile::create(dest_folder, dest_name);
  if (!temp) return R::error(tool_name + ": " + dest_name + ": " + temp.message());
  OutputFile out(std::move(temp.value()), gzip);
  if (auto started = out.start(); !started) return R::error(started.message());

  // Everything the child needs is built here: after fork it may not allocate.
  const std::string program_text = program.value().string();
  std::vector<char*> argv{const_cast<char*>(program_text.c_str())};
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Not the host's environment: it holds the secrets of every job. Locale and zone only.
  std::vector<std::string> env_text = {"PATH=/usr/bin:/bin"};
  for (const char* name : {"LANG", "LC_ALL", "TZ"})
    if (const char* value = std::getenv(name)) env_text.push_back(std::string(name) + "=" + value);
  env_text.insert(env_text.end(), command.env.begin(), command.env.end());
  std::vector<char*> envp;
  for (auto& entry : env_text) envp.push_back(entry.data());
  envp.push_back(nullptr);

  Fd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  Pipe output, errors, report;
  if (!null_input.valid() || !output.open() || !errors.open() || !report.open())
    return R::error(tool_name + ": cannot make pipes: " + errno_text(errno));

  const auto started = Clock::now();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return R::error(tool_name + ": cannot start: " + errno_text(errno));
  if (pid == 0)
    exec_child(program_text.c_str(), argv.data(), envp.data(), null_input.get(), output.write, errors.write,
               report.write, parent);
  ::setpgid(pid, pid);  // as the child does, so a stop right away reaches the group too
  output.close_write();
  errors.close_write();
  report.close_write();

  int exec_error = 0;
  if (::read(report.read, &exec_error, sizeof exec_error) == static_cast<ssize_t>(sizeof exec_error)) {
    int ignored = 0;
    ::waitpid(pid, &ignored, 0);
    return R::error(tool_name + ": cannot run " + program_text + ": " + errno_text(exec_error));
  }

  auto should_stop = [&] { return Clock::now() >= limits.deadline || limits.cancelled(); };
  std::string err_text;
  std::string write_error;
  ToolOutput result;
  std::vector<char> chunk(kChunkBytes);
  bool stopped = false;
  for (;;) {
    if (should_stop()) {
      stopped = true;
      break;
    }
    pollfd fds[2] = {{output.read, POLLIN, 0}, {errors.read, POLLIN, 0}};
    if (output.read < 0 && errors.read < 0) break;
    const int ready = ::poll(fds, 2, kPollMs);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (fds[1].revents) {
      const ssize_t n = ::read(errors.read, chunk.data(), chunk.size());
      if (n > 0) {
        err_text.append(chunk.data(), static_cast<size_t>(n));
        // Keep a little more than shown, so a secret cut at the front is still recognised.
        if (err_text.size() > 4 * kStderrKept) err_text.erase(0, err_text.size() - 2 * kStderrKept);
      } else if (n == 0 || errno != EINTR) {
        ::close(errors.read);
        errors.read = -1;
      }
    }
    if (fds[0].revents) {
      const ssize_t n = ::read(output.read, chunk.data(), chunk.size());
      if (n > 0) {
        const std::string_view data(chunk.data(), static_cast<size_t>(n));
        result.source_bytes += data.size();
        if (observe) observe(data);
        if (auto written = out.write(data); !written) {
          write_error = written.message();
          break;
        }
      } else if (n == 0 || errno != EINTR) {
        ::close(output.read);
        output.read = -1;
      }
    }
  }

  // The tool is done printing, or must stop: past the deadline, cancelled, or the file
  // could not be written. It gets SIGTERM, then SIGKILL after the grace.
  std::optional<Clock::time_point> term_sent;
  auto terminate = [&] {
    if (term_sent) return;
    ::kill(-pid, SIGTERM);
    term_sent = Clock::now();
  };
  if (stopped || !write_error.empty()) terminate();
  bool killed = false;
  int wait_status = 0;
  Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  for (;;) {
    const pid_t reaped = ::waitpid(pid, &wait_status, WNOHANG);
    if (reaped == pid || (reaped < 0 && errno != EINTR)) break;
    if (!term_sent && should_stop()) {
      stopped = true;
      terminate();
    }
    if (term_sent && !killed && Clock::now() - *term_sent >= limits.term_grace) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    pollfd p{exited.get(), POLLIN, 0};
    if (!exited.valid() || ::poll(&p, 1, kPollMs) < 0) ::usleep(1000);
  }
  if (term_sent) ::kill(-pid, SIGKILL);  // a worker of the group that outlived its leader
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);

  if (stopped) return R::error("stopped");
  if (!write_error.empty()) return R::error(tool_name + ": writing " + dest_name + ": " + write_error);
  // Read what stderr still holds (the tool may exit before the loop saw it).
  if (errors.read >= 0) {
    const int flags = ::fcntl(errors.read, F_GETFL);
    ::fcntl(errors.read, F_SETFL, flags | O_NONBLOCK);
    for (ssize_t n; (n = ::read(errors.read, chunk.data(), chunk.size())) > 0;) err_text.append(chunk.data(), static_cast<size_t>(n));
  }
  const std::string tail = stderr_tail(err_text, command, limits.redactor);
  if (WIFSIGNALED(wait_status))
    return R::error(tool_name + " was killed by " + signal_name(WTERMSIG(wait_status)) + (tail.empty() ? "" : ": " + tail));
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) != 0)
    return R::error(tool_name + " exited with status " + std::to_string(WEXITSTATUS(wait_status)) +
                    (tail.empty() ? "" : ": " + tail));
  if (auto committed = out.commit(); !committed)
    return R::error(tool_name + ": writing " + dest_name + ": " + committed.message());
  result.bytes = out.bytes();
  return result;
}

}  // namespace cronhost::api
