#include "util/list_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cronhost {
namespace {

struct Walk {
  bool (*wanted)(std::string_view);
  FileListing& out;

  bool fail(const std::string& at) {
    out.error = std::strerror(errno);
    out.error_at = at;
    return false;
  }

  // Lists `folder`, then the folders in it. Each is opened by its whole path once its parent
  // is closed: no descriptor is held per level, and a path past PATH_MAX fails
  // (ENAMETOOLONG) rather than recursing without end (a bind mount of a folder inside itself).
  bool list(const std::string& folder, int open_flags) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | open_flags);
    if (fd < 0) return fail(folder);
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
      fail(folder);
      ::close(fd);
      return false;
    }
    const std::string prefix = folder.ends_with('/') ? folder : folder + "/";
    std::vector<std::string> folders;
    bool ok = true;
    while (ok) {
      errno = 0;
      const dirent* entry = ::readdir(dir);
      if (!entry) {
        if (errno != 0) ok = fail(folder);
        break;
      }
      const std::string_view name = entry->d_name;
      if (name.starts_with('.')) continue;  // hidden, and "." and ".."
      unsigned char type = entry->d_type;
      struct stat st {};
      if (type == DT_UNKNOWN) {
        if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          ok = fail(prefix + entry->d_name);
          break;
        }
        type = IFTODT(st.st_mode);
      }
      if (type == DT_DIR) {
        folders.push_back(prefix + entry->d_name);
        continue;
      }
      if (!wanted(name)) continue;
      // A link that leads nowhere is listed: reading it then says why, naming it.
      if (type == DT_LNK && ::fstatat(::dirfd(dir), entry->d_name, &st, 0) == 0) type = IFTODT(st.st_mode);
      if (type == DT_REG || type == DT_LNK) out.files.push_back(prefix + entry->d_name);
    }
    ::closedir(dir);
    for (size_t i = 0; ok && i < folders.size(); ++i) ok = list(folders[i], O_NOFOLLOW);  // never through a link
    return ok;
  }
};

}  // namespace

FileListing list_files(const std::string& root, bool (*wanted)(std::string_view name)) {
  FileListing listing;
  Walk{wanted, listing}.list(root, 0);  // the root itself may be a link
  return listing;
}

}  // namespace cronhost
