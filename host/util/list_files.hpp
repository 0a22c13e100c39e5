// The files under a folder, at any depth: one readdir pass per folder, and a stat only where
// the entry's type does not say (a link, or a file system that gives no type).
// std::filesystem::recursive_directory_iterator made and split a path for each entry: with
// 100,000 job files that was ~0.2 s of a host's start.
//
// As recursive_directory_iterator with its default options: links are followed to files and
// never into folders. Hidden entries (a leading '.') are skipped, folders with all they hold.
// Stateless; safe from any thread.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace cronhost {

struct FileListing {
  std::vector<std::string> files;  // "root/sub/name", in the order read (unsorted)
  std::string error;               // empty when the whole folder was read
  std::string error_at;            // the path being read when it failed
};

// The regular files, or links to regular files, under the folder `root` whose name `wanted`
// accepts. A wanted link that leads nowhere is listed too, so that reading it reports it (the
// iterator skipped it without a word). A folder that cannot be read ends the listing with
// `error` set: going on would look, to a caller, as if the files it holds were removed.
FileListing list_files(const std::string& root, bool (*wanted)(std::string_view name));

}  // namespace cronhost
