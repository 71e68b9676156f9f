#include "routing/router.h"

#include <gtest/gtest.h>

namespace relay::routing {
namespace {

dbt::RunEvent Event(std::string type, int code, int64_t job) {
  dbt::RunEvent ev;
  ev.event_id = "wev_1";
  ev.event_type = std::move(type);
  ev.run_status_code = code;
  ev.job_id = {job, std::to_string(job)};
  ev.run_id = {99, "99"};
  ev.account_id = dbt::Id{1, "1"};
  ev.project_id = dbt::Id{167194, "167194"};
  ev.environment_id = dbt::Id{1234, "1234"};
  return ev;
}

config::Route RouteFor(std::string name, std::vector<std::string> connections) {
  config::Route r;
  r.name = std::move(name);
  r.connections = std::move(connections);
  return r;
}

TEST(RouterTest, SuccessfulCompletedRunMatchesEveryConnectionOfTheRoute) {
  auto r = RouteFor("all", {"c1", "c2"});
  auto m = MatchRoutes({r}, Event("job.run.completed", 10, 123));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].connection_id, "c1");
  EXPECT_EQ(m[1].connection_id, "c2");
  EXPECT_EQ(m[0].route, "all");
}

TEST(RouterTest, FailedAndStartedRunsDoNotMatchASuccessRoute) {
  auto r = RouteFor("all", {"c1"});
  EXPECT_TRUE(MatchRoutes({r}, Event("job.run.completed", 20, 1)).empty());
  EXPECT_TRUE(MatchRoutes({r}, Event("job.run.errored", 20, 1)).empty());
  EXPECT_TRUE(MatchRoutes({r}, Event("job.run.started", 3, 1)).empty());
  EXPECT_TRUE(MatchRoutes({r}, Event("job.run.completed", 30, 1)).empty());
}

TEST(RouterTest, UnknownEventTypeNeverMatches) {
  auto r = RouteFor("all", {"c1"});
  EXPECT_TRUE(MatchRoutes({r}, Event("job.run.somethingnew", 10, 1)).empty());
}

TEST(RouterTest, ErrorRouteMatchesErroredAndFailedCompleted) {
  auto r = RouteFor("alerts", {"c1"});
  r.on_status_codes = {20};
  EXPECT_EQ(MatchRoutes({r}, Event("job.run.errored", 20, 1)).size(), 1u);
  EXPECT_EQ(MatchRoutes({r}, Event("job.run.completed", 20, 1)).size(), 1u);
  EXPECT_TRUE(MatchRoutes({r}, Event("job.run.completed", 10, 1)).empty());
}

TEST(RouterTest, IdFiltersMustAllMatch) {
  auto r = RouteFor("jobs", {"c1"});
  r.job_ids = {123, 456};
  r.project_ids = {167194};
  EXPECT_EQ(MatchRoutes({r}, Event("job.run.completed", 10, 456)).size(), 1u);
  EXPECT_TRUE(MatchRoutes({r}, Event("job.run.completed", 10, 789)).empty());
  r.environment_ids = {1};
  EXPECT_TRUE(MatchRoutes({r}, Event("job.run.completed", 10, 456)).empty());
  auto no_account = Event("job.run.completed", 10, 456);
  no_account.account_id.reset();
  auto acct = RouteFor("acct", {"c2"});
  acct.account_ids = {1};
  EXPECT_TRUE(MatchRoutes({acct}, no_account).empty());
}

TEST(RouterTest, ManyToMany) {
  auto a = RouteFor("a", {"c1", "c2"});
  auto b = RouteFor("b", {"c2", "c3"});
  b.sync_type = config::SyncType::kFull;
  auto m = MatchRoutes({a, b}, Event("job.run.completed", 10, 1));
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[2].route, "b");
  EXPECT_EQ(m[2].connection_id, "c2");
  EXPECT_EQ(m[2].sync_type, config::SyncType::kFull);
}

TEST(RouterTest, ExplainSaysWhyARouteDidNotMatch) {
  auto r = RouteFor("jobs", {"c1"});
  r.job_ids = {123};
  auto v = ExplainRoutes({r}, Event("job.run.completed", 10, 999));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].matched);
  bool found = false;
  for (const auto& reason : v[0].reasons) found |= reason == "job_id 999 not in [123]";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace relay::routing
