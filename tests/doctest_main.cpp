// The test programs' main: doctest's, plus one guard. ctest runs each
// TEST_CASE as `--test-case=NAME`; a filter that matches no test case (a name
// ctest split, a renamed test) would otherwise pass having run nothing.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

namespace {

long g_selected = -1;  // test cases that passed the filters, once the run ends

// Counts the selected test cases; reports nothing itself.
struct SelectedCount : doctest::IReporter {
  explicit SelectedCount(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& s) override {
    g_selected = static_cast<long>(s.numTestCasesPassingFilters);
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("selected_count", 1, SelectedCount);

bool has_test_case_filter(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--test-case=", 12) == 0 || std::strncmp(argv[i], "-tc=", 4) == 0)
      return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (context.shouldExit()) return status;  // --list-test-cases and the like
  if (status == 0 && g_selected == 0 && has_test_case_filter(argc, argv)) {
    std::fprintf(stderr,
                 "no test case matches the --test-case filter: nothing was tested (a name "
                 "holding ';' is split in two by ctest)\n");
    return 1;
  }
  return status;
}
