// Errors that reach the user: always name the file (or object) and the reason.
#pragma once
#include <stdexcept>
#include <string>

namespace excap {

class Error : public std::runtime_error {
 public:
  Error(std::string where, std::string reason)
      : std::runtime_error(where.empty() ? reason : where + ": " + reason),
        where_(std::move(where)),
        reason_(std::move(reason)) {}
  const std::string& where() const { return where_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string where_;
  std::string reason_;
};

}  // namespace excap
