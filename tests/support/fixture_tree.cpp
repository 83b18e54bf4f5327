#include "support/fixture_tree.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace prefcpu::testing {

FixtureTree::FixtureTree() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/prefcpu-fixture-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = buffer.data();
}

FixtureTree::~FixtureTree() {
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

std::filesystem::path FixtureTree::file(std::string_view relative, std::string_view content) const {
  std::filesystem::path full = root_ / relative;
  std::filesystem::create_directories(full.parent_path());
  std::ofstream out(full, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write fixture " + full.string());
  return full;
}

std::filesystem::path FixtureTree::dir(std::string_view relative) const {
  std::filesystem::path full = root_ / relative;
  std::filesystem::create_directories(full);
  return full;
}

std::string FixtureTree::read(std::string_view relative) const {
  std::ifstream in(root_ / relative, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

bool FixtureTree::exists(std::string_view relative) const {
  return std::filesystem::exists(root_ / relative);
}

}  // namespace prefcpu::testing
