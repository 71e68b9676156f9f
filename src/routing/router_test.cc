#include "routing/router.h"

#include <gtest/gtest.h>

#include <algorithm>

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

// MatchRoutes decides without building explanations; ExplainRoutes must agree with it on every
// combination of event type, status, present/absent ids and filters.
TEST(RouterTest, ExplainAgreesWithMatchEverywhere) {
  std::vector<config::Route> routes;
  for (int mask = 0; mask < 32; ++mask) {
    auto r = RouteFor("r" + std::to_string(mask), {"c" + std::to_string(mask)});
    if (mask & 1) r.job_ids = {123};
    if (mask & 2) r.account_ids = {1, 2};
    if (mask & 4) r.project_ids = {5};
    if (mask & 8) r.environment_ids = {1234};
    if (mask & 16) r.on_status_codes = {10, 20};
    routes.push_back(r);
  }
  for (const char* type : {"job.run.completed", "job.run.errored", "job.run.started"}) {
    for (int code : {3, 10, 20, 30}) {
      for (int64_t job : {123, 7}) {
        for (bool without_ids : {false, true}) {
          auto ev = Event(type, code, job);
          if (without_ids) ev.account_id.reset(), ev.project_id.reset();
          auto matched = MatchRoutes(routes, ev);
          auto verdicts = ExplainRoutes(routes, ev);
          ASSERT_EQ(verdicts.size(), routes.size());
          for (size_t i = 0; i < routes.size(); ++i) {
            bool in_match = std::any_of(matched.begin(), matched.end(),
                                        [&](const Match& m) { return m.route == routes[i].name; });
            EXPECT_EQ(verdicts[i].matched, in_match) << routes[i].name << " " << type << " " << code << " " << job;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace relay::routing

namespace relay::routing {
namespace {

config::Route FanIn() {
  config::Route r = RouteFor("c360", {"c1", "c2"});
  r.after_all = {123, 456};
  r.within = std::chrono::hours(6);
  return r;
}

TEST(RouterFanInTest, AFanInRouteCountsItsJobsRunsAndNeverFiresDirectly) {
  const std::vector<config::Route> routes = {FanIn()};
  EXPECT_TRUE(MatchRoutes(routes, Event("job.run.completed", 10, 123)).empty());
  EXPECT_TRUE(TriggersFor(routes, Event("job.run.completed", 10, 123)).empty());
  auto steps = FanInFor(routes, Event("job.run.completed", 10, 456));
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].route, "c360");
  EXPECT_EQ(steps[0].job_id, 456);
  EXPECT_EQ(steps[0].run_id, 99);
  EXPECT_EQ(steps[0].after_all, (std::vector<int64_t>{123, 456}));
  EXPECT_EQ(steps[0].within, std::chrono::hours(6));
  ASSERT_EQ(steps[0].fire.size(), 2u);
  EXPECT_EQ(steps[0].fire[1].connection_id, "c2");
  EXPECT_EQ(steps[0].fire[0].dedupe_key, "c360|c1|1|99|10") << "keyed like any trigger, by the completing run";
  EXPECT_TRUE(FanInFor(routes, Event("job.run.completed", 10, 789)).empty()) << "not one of after_all";
  EXPECT_TRUE(FanInFor(routes, Event("job.run.completed", 20, 123)).empty()) << "on = success";
  EXPECT_TRUE(FanInFor(routes, Event("job.run.started", 3, 123)).empty());
  config::Route filtered = FanIn();
  filtered.environment_ids = {5};
  EXPECT_TRUE(FanInFor({filtered}, Event("job.run.completed", 10, 123)).empty()) << "other filters still apply";
  auto v = ExplainRoutes(routes, Event("job.run.completed", 10, 123));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].matched);
  EXPECT_TRUE(v[0].fan_in);
  EXPECT_EQ(v[0].reasons.back(), "job_id 123 is one of after_all [123, 456]: counts toward the fan-in");
}

}  // namespace
}  // namespace relay::routing
