// The lifecycle table in connection_machine.h is the code: every row of it is what Decide
// returns, and every (ask, answer, policy) the table does not list is impossible. The
// machine-level test (MachineTableTest in dispatcher_test.cc) then checks that the machine
// carries the decisions out against a RudderStack fake.

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "dispatch/connection_machine.h"

namespace relay::dispatch {
namespace {

constexpr Ask kAsks[] = {Ask::kStart,         Ask::kFindRunning,      Ask::kResolve, Ask::kCheckWaiting,
                         Ask::kCheckStopping, Ask::kCheckUnconfirmed, Ask::kPoll};
constexpr Answer kAnswers[] = {Answer::kStarted,   Answer::kOursFound, Answer::kOtherRunning, Answer::kNoneRunning,
                               Answer::kRunning,   Answer::kRunningTooLong, Answer::kSucceeded, Answer::kFailed,
                               Answer::kConflict,  Answer::kRetryable, Answer::kPermanent};
constexpr Policy kPolicies[] = {Policy::kSkip, Policy::kQueue, Policy::kRestart};

// One row of the header's table, as written.
struct Row {
  std::string ask, answer, policy, action, phase, start;
};

std::vector<Row> TableInHeader() {
  std::ifstream in(std::string(RELAY_SOURCE_DIR) + "/dispatch/connection_machine.h");
  EXPECT_TRUE(in.good());
  std::vector<Row> rows;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.starts_with("// lifecycle table")) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (line.starts_with("// end of table")) break;
    std::istringstream words(line.substr(2));
    Row r;
    words >> r.ask >> r.answer >> r.policy >> r.action >> r.phase >> r.start;
    EXPECT_FALSE(r.start.empty()) << "a row of six columns: " << line;
    std::string extra;
    EXPECT_FALSE(words >> extra) << "a row of six columns: " << line;
    rows.push_back(r);
  }
  EXPECT_TRUE(inside) << "the table's markers";
  return rows;
}

std::string StartText(const Decision& d) { return d.start ? std::string(store::ToString(*d.start)) : "-"; }

TEST(LifecycleTableTest, EveryRowOfTheHeaderIsWhatDecideReturns) {
  const std::vector<Row> rows = TableInHeader();
  ASSERT_GE(rows.size(), 30u);
  std::set<std::tuple<std::string, std::string, std::string>> listed;
  for (const Row& r : rows) {
    bool matched = false;
    for (Ask ask : kAsks) {
      if (ToString(ask) != r.ask) continue;
      for (Answer answer : kAnswers) {
        if (ToString(answer) != r.answer) continue;
        for (Policy policy : kPolicies) {
          if (r.policy != "any" && ToString(policy) != r.policy) continue;
          matched = true;
          const Decision d = Decide(ask, answer, policy);
          const std::string where = r.ask + " " + r.answer + " " + std::string(ToString(policy));
          EXPECT_EQ(ToString(d.action), r.action) << where;
          EXPECT_EQ(store::ToString(d.phase), r.phase) << where;
          EXPECT_EQ(StartText(d), r.start) << where;
          EXPECT_TRUE(listed.emplace(r.ask, r.answer, std::string(ToString(policy))).second) << "listed twice: " << where;
        }
      }
    }
    EXPECT_TRUE(matched) << "a row naming nothing Decide knows: " << r.ask << " " << r.answer << " " << r.policy;
  }
  // Every pair the table leaves out is one the machine cannot meet.
  for (Ask ask : kAsks) {
    for (Answer answer : kAnswers) {
      for (Policy policy : kPolicies) {
        if (listed.count({std::string(ToString(ask)), std::string(ToString(answer)), std::string(ToString(policy))})) {
          continue;
        }
        EXPECT_EQ(Decide(ask, answer, policy).action, Action::kImpossible)
            << ToString(ask) << " " << ToString(answer) << " " << ToString(policy) << " is missing from the table";
      }
    }
  }
}

// Every mix of if_running policies a start can carry decides as its most demanding one.
TEST(LifecycleTableTest, EveryPolicyMixIsItsMostDemandingPolicy) {
  const std::map<int, Policy> expected = {
      {0, Policy::kQueue},  // no trigger said: the default
      {store::kPolicySkip, Policy::kSkip},
      {store::kPolicyQueue, Policy::kQueue},
      {store::kPolicySkip | store::kPolicyQueue, Policy::kQueue},
      {store::kPolicyRestart, Policy::kRestart},
      {store::kPolicyRestart | store::kPolicySkip, Policy::kRestart},
      {store::kPolicyRestart | store::kPolicyQueue, Policy::kRestart},
      {store::kPolicyRestart | store::kPolicyQueue | store::kPolicySkip, Policy::kRestart},
  };
  for (const auto& [bits, policy] : expected) EXPECT_EQ(PolicyOf(bits), policy) << "policy bits " << bits;
}

// Every phase the store can hold maps to the one question it asks, stopping included.
TEST(LifecycleTableTest, EveryPhaseAsksAndEveryErrorIsDecided) {
  for (store::Phase phase : store::kPhases) {
    EXPECT_EQ(store::ParsePhase(store::ToString(phase)), phase);
  }
  for (store::StartState state : store::kStartStates) {
    EXPECT_EQ(store::ParseStartState(store::ToString(state)), state);
  }
  EXPECT_EQ(store::ParsePhase("paused"), std::nullopt);
  for (Ask ask : kAsks) {
    for (Policy policy : kPolicies) {
      EXPECT_NE(Decide(ask, Answer::kRetryable, policy).action, Action::kImpossible) << ToString(ask);
      EXPECT_EQ(Decide(ask, Answer::kPermanent, policy).phase, store::Phase::kIdle) << ToString(ask);
      EXPECT_EQ(Decide(ask, Answer::kPermanent, policy).start, store::StartState::kDead) << ToString(ask);
    }
  }
}

}  // namespace
}  // namespace relay::dispatch
