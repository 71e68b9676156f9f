#pragma once
// Access to the shared dbt test vectors (../shared/testdata/dbt) for tests.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace relay::testing {

inline std::string TestdataPath(const std::string& name) { return std::string(RELAY_TESTDATA_DIR) + "/dbt/" + name; }

// The exact bytes of a file; empty if it cannot be read.
inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Rows of a TSV file without its header line, split on tabs.
inline std::vector<std::vector<std::string>> ReadTsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> cols;
    size_t start = 0;
    for (;;) {
      size_t tab = line.find('\t', start);
      cols.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    rows.push_back(std::move(cols));
  }
  return rows;
}

}  // namespace relay::testing
