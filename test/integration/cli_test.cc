// The operator CLI, black-box: each command's normal output (golden files; relative times
// masked), --json parsed and checked, and the documented error paths.
// RELAY_UPDATE_GOLDEN=1 rewrites the golden files.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>

#include "../support/process.h"
#include "../support/temp_dir.h"
#include "../support/testdata.h"
#include "store/store.h"

namespace relay {
namespace {

namespace json = boost::json;
using testing::RunCommand;

std::string Mask(const std::string& text) {
  // Relative times change as the clock moves, and so do the column widths around them.
  static const std::regex kRelative(R"(\((in )?\d+[smhd]( ago)?\))");
  static const std::regex kPadding(" {2,}");
  static const std::regex kTempDir("/tmp/retl-relay-test-[A-Za-z0-9]+");
  return std::regex_replace(std::regex_replace(std::regex_replace(text, kRelative, "(<REL>)"), kPadding, "  "), kTempDir,
                            "<DIR>");
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(RELAY_GOLDEN_DIR) + "/" + name;
  const std::string masked = Mask(actual);
  if (std::getenv("RELAY_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << masked;
    return;
  }
  EXPECT_EQ(masked, testing::ReadFileBytes(path)) << "golden file " << path << " (RELAY_UPDATE_GOLDEN=1 rewrites)";
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Populate();
    std::ofstream(dir_.File("relay.toml"))
        << "[store]\nurl = \"sqlite://" << dir_.File("relay.db") << "\"\n"
        << "[dbt]\nwebhook_secret = \"test-secret\"\n"
        << "[rudderstack]\napi_base = \"http://127.0.0.1:9\"\ntoken = \"cli-test-token\"\nrequest_timeout = \"2s\"\n"
        << "[[route]]\nname = \"main\"\njob_ids = [\"123\"]\nconnections = [\"conn_a\"]\n"
        << "[[route]]\nname = \"full-nightly\"\njob_ids = [\"123\"]\nconnections = [\"conn_c\"]\nsync_type = \"full\"\n";
  }

  // A store as a relay would leave it: a succeeded sync, an event with no route, a dead trigger.
  void Populate() {
    auto store = std::move(store::OpenStore("sqlite://" + dir_.File("relay.db"))).value();
    auto event = [&](const std::string& id, int64_t job, int64_t run, int code, const char* type) {
      return store::NewEvent{id, type, 1, job, run, code, R"({"eventId":")" + id + R"(","eventType":")" + type +
                             R"(","accountId":1,"data":{"jobId":")" + std::to_string(job) + R"(","runId":")" +
                             std::to_string(run) + R"(","runStatusCode":)" + std::to_string(code) + "}}",
                             clock_.Now()};
    };
    ASSERT_TRUE(store->Append(event("wev_golden_1", 123, 1001, 10, "job.run.completed"),
                              {{"main", "conn_a", "incremental", "queue", "k1"}}).ok());
    Step(*store, "conn_a", "running", "s_1", Cover{"running", "s_1", ""},
         {{"conn_a", "s_1", "running", "relay", "2026-01-01T00:00:01.000Z", "", "", 0, 0, 0, 0, "incremental"}},
         {{"conn_a", "start", clock_.Now(), 12, 200, "ok", "s_1", kThisStart}});
    clock_.Advance(std::chrono::minutes(2));
    Step(*store, "conn_a", "idle", "", Cover{"succeeded", "s_1", ""},
         {{"conn_a", "s_1", "succeeded", "relay", "2026-01-01T00:00:01.000Z", "2026-01-01T00:02:00.000Z", "", 40, 2, 42,
           42, "incremental"}},
         {{"conn_a", "get_sync", clock_.Now(), 8, 200, "ok", "s_1", kThisStart}});
    clock_.Advance(std::chrono::minutes(1));
    ASSERT_TRUE(store->Append(event("wev_golden_2", 456, 1002, 20, "job.run.errored"), {}).ok());
    clock_.Advance(std::chrono::minutes(1));
    ASSERT_TRUE(store->Append(event("wev_golden_3", 123, 1003, 10, "job.run.completed"),
                              {{"main", "conn_b", "incremental", "queue", "k3"}}).ok());
    Step(*store, "conn_b", "idle", "", Cover{"dead", "", "NOT_FOUND: rudderstack POST /v2/retl-connections/conn_b/start: HTTP 404"},
         {}, {{"conn_b", "start", clock_.Now(), 5, 404, "NOT_FOUND: HTTP 404", "", kThisStart}});
  }

  // What a step does to the connection's start: the unfinished one if there is one, else a new
  // one covering every pending trigger.
  struct Cover {
    std::string state, sync_id, error;
  };
  // An attempt made for the step's start (its id is known once the start is written).
  static constexpr int64_t kThisStart = -1;

  void Step(store::Store& store, const std::string& conn, std::string phase, std::string sync_id,
            std::optional<Cover> cover, std::vector<store::Sync> syncs, std::vector<store::Attempt> attempts) {
    auto claim = store.ClaimConnection("golden", clock_.Now(), std::chrono::seconds(60));
    ASSERT_TRUE(claim.ok() && claim->has_value());
    ASSERT_EQ((*claim)->connection.id, conn);
    store::Transition t;
    t.owner = "golden";
    t.now = clock_.Now();
    t.connection = (*claim)->connection;
    t.connection.phase = *store::ParsePhase(phase);
    t.connection.sync_id = std::move(sync_id);
    t.connection.phase_since = clock_.Now();
    t.connection.next_check_at = clock_.Now();
    if (cover) {
      store::Start st;
      if ((*claim)->current) {
        st = *(*claim)->current;
      } else {
        st.seq_lo = (*claim)->connection.covered;
        st.seq_hi = t.connection.covered = (*claim)->backlog.seq;
        st.triggers = st.seq_hi - st.seq_lo;
        st.oldest = *(*claim)->backlog.oldest;
        st.attempted_at = clock_.Now();
      }
      st.state = *store::ParseStartState(cover->state);
      st.sync_id = cover->sync_id;
      st.error = cover->error;
      t.starts.push_back(st);
    }
    ASSERT_TRUE(store.Commit(t).ok());  // the lease is kept for the calls' record
    store::Transition calls;
    calls.owner = "golden";
    calls.now = clock_.Now();
    calls.connection = t.connection;
    calls.syncs = std::move(syncs);
    calls.attempts = std::move(attempts);
    for (store::Attempt& a : calls.attempts) {
      if (a.start_id == kThisStart) a.start_id = t.starts.at(0).id;
    }
    calls.release = true;
    ASSERT_TRUE(store.Commit(calls).ok());
  }

  testing::CommandResult Cli(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.push_back("--config");
    args.push_back(dir_.File("relay.toml"));
    return RunCommand(args, {}, stdin_data);
  }
  json::value Json(std::vector<std::string> args) {
    args.push_back("--json");
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }
  std::unique_ptr<store::Store> Store() {
    return std::move(store::OpenStore("sqlite://" + dir_.File("relay.db"))).value();
  }

  testing::TempDir dir_;
  FakeClock clock_{*ParseIso8601("2026-01-01T00:00:00Z")};
};

TEST_F(CliTest, Status) {
  auto r = Cli({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectGolden("status.txt", r.out);
  auto v = Json({"status"});
  const auto& conns = v.at("connections").as_array();
  ASSERT_EQ(conns.size(), 2u);
  EXPECT_EQ(conns[0].at("connection_id").as_string(), "conn_a");
  EXPECT_EQ(conns[0].at("last_outcome").as_string(), "succeeded");
  EXPECT_EQ(conns[1].at("dead").as_int64(), 1);
}

TEST_F(CliTest, EventsNewestFirstWithFilters) {
  auto r = Cli({"events"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectGolden("events.txt", r.out);
  auto all = Json({"events"}).at("events").as_array();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].at("event_id").as_string(), "wev_golden_3");
  EXPECT_EQ(Json({"events", "--job", "456"}).at("events").as_array().size(), 1u);
  EXPECT_EQ(Json({"events", "--limit", "1"}).at("events").as_array().size(), 1u);
  EXPECT_EQ(Json({"events", "--since", "2026-01-01T00:03:30Z"}).at("events").as_array().size(), 1u);
  EXPECT_EQ(Cli({"events", "--since", "yesterday"}).exit_code, 2);
}

// An eventId with ESC/BEL sequences (stored before ingest refused them) was printed raw:
// terminal escape injection, and '\n' broke the table's rows.
TEST_F(CliTest, StoredControlCharactersNeverReachTheTerminal) {
  const std::string evil = "wev_\x1b]0;pwned\x07\x1b[2J\nrow";
  ASSERT_TRUE(Store()
                  ->Append({evil, "job.run.completed", 1, 123, 1004, 10, R"({"eventId":"x"})", clock_.Now()},
                           {{"main", "conn_a", "incremental", "queue", "k4"}})
                  .ok());
  auto r = Cli({"events"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.out.find('\x07'), std::string::npos);
  EXPECT_NE(r.out.find("wev_\\x1b]0;pwned\\x07\\x1b[2J\\x0arow"), std::string::npos) << r.out;
  // JSON output keeps the exact id (escaped by the serializer).
  EXPECT_EQ(Json({"events"}).at("events").at(0).at("event_id").as_string(), evil);
  // Asking for it by id is refused with a message that does not echo it.
  auto one = Cli({"event", evil});
  EXPECT_NE(one.exit_code, 0);
  EXPECT_EQ(one.err.find('\x1b'), std::string::npos) << one.err;
}

// A trigger's sync was looked up in the connection's first 1,000 syncs, oldest first: on a busy
// connection new triggers showed no sync at all.
TEST_F(CliTest, ATriggersSyncIsFoundAmongThousandsOfSyncs) {
  {
    auto store = Store();
    ASSERT_TRUE(store->Append({"wev_late", "job.run.completed", 1, 123, 1005, 10, "{}", clock_.Now()},
                              {{"main", "conn_a", "incremental", "queue", "k5"}})
                    .ok());
    std::vector<store::Sync> syncs;
    for (int i = 0; i < 1000; ++i) {
      syncs.push_back({"conn_a", "s_fill_" + std::to_string(i), "succeeded", "external", "", "", "", 0, 0, 0, 0, ""});
    }
    syncs.push_back({"conn_a", "s_late", "succeeded", "relay", "2026-01-01T00:05:00.000Z", "2026-01-01T00:06:00.000Z",
                     "", 7, 0, 7, 7, "incremental"});
    Step(*store, "conn_a", "idle", "", Cover{"succeeded", "s_late", ""}, syncs, {});
  }
  auto trail = Json({"event", "wev_late"});
  const auto& sync = trail.at("triggers").at(0).at("sync");
  ASSERT_TRUE(sync.is_object()) << json::serialize(trail);
  EXPECT_EQ(sync.at("sync_id").as_string(), "s_late");
}

TEST_F(CliTest, SinceAndConnectionIdsAreCheckedStrictly) {
  for (std::string since : {"9999-99-99T99:99:99Z", "2026-02-30T00:00:00Z", "2300-01-01T00:00:00Z"}) {
    auto r = Cli({"events", "--since", since});
    EXPECT_EQ(r.exit_code, 2) << since << ": " << r.out;
  }
  for (std::string id : std::vector<std::string>{"../syncs", "a'b", "a b", std::string(300, 'c')}) {
    auto r = Cli({"trigger", id});
    EXPECT_EQ(r.exit_code, 1) << id;
    EXPECT_NE(r.err.find("connection_id:"), std::string::npos) << r.err;
    EXPECT_NE(Cli({"syncs", id}).exit_code, 0) << id;
  }
  EXPECT_EQ(Json({"status"}).at("connections").as_array().size(), 2u) << "nothing was stored";
}

TEST_F(CliTest, EventShowsTheWholeAuditTrail) {
  auto r = Cli({"event", "wev_golden_1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectGolden("event.txt", r.out);
  auto v = Json({"event", "wev_golden_1"});
  const auto& t = v.at("triggers").as_array().at(0);
  EXPECT_EQ(t.at("state").as_string(), "succeeded");
  EXPECT_EQ(t.at("attempts").as_array().size(), 2u) << "the start call and the poll, found by the trigger's start";
  EXPECT_EQ(t.at("start_id").as_int64(), 1);
  EXPECT_EQ(t.at("sync").at("metrics").at("succeeded").as_int64(), 40);
  EXPECT_NE(v.at("raw_body").as_string().find("wev_golden_1"), std::string::npos);
  auto missing = Cli({"event", "wev_nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no event wev_nope"), std::string::npos);
}

TEST_F(CliTest, DeadAndRetry) {
  auto r = Cli({"dead"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectGolden("dead.txt", r.out);
  EXPECT_EQ(Json({"retry", "2"}).at("retried").as_array().size(), 1u);
  EXPECT_EQ((*Store()->GetTrigger(2))->state, "pending");
  EXPECT_EQ(Cli({"retry", "2"}).exit_code, 1) << "no longer dead";
  EXPECT_EQ(Json({"retry", "--all-dead"}).at("retried").as_array().size(), 0u);
  auto usage = Cli({"retry"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("TRIGGER_ID or --all-dead"), std::string::npos);
}

TEST_F(CliTest, ReplayRoutesAgainWithTheCurrentConfig) {
  auto v = Json({"replay", "wev_golden_1"});
  const auto& created = v.at("triggers").as_array();
  ASSERT_EQ(created.size(), 2u) << "main and full-nightly both match job 123 now";
  EXPECT_EQ(created[1].at("connection_id").as_string(), "conn_c");
  auto triggers = *Store()->EventTriggers("wev_golden_1");
  EXPECT_EQ(triggers.size(), 3u);
  EXPECT_EQ(triggers[2].sync_type, "full");
  EXPECT_EQ(triggers[2].state, "pending");
}

TEST_F(CliTest, ManualTrigger) {
  auto r = Cli({"trigger", "conn_z", "--full"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trigger 3 → conn_z (route manual, full, if_running queue): pending"), std::string::npos) << r.out;
  auto t = *Store()->GetTrigger(3);
  EXPECT_EQ(t->route, "manual");
  EXPECT_EQ(t->sync_type, "full");
  EXPECT_EQ(Cli({"trigger", "bad/id"}).exit_code, 1);
  EXPECT_EQ(Cli({"trigger"}).exit_code, 2);
}

TEST_F(CliTest, ExplainIsFieldByFieldAndTouchesNothing) {
  auto r = Cli({"explain", testing::TestdataPath("completed.body")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectGolden("explain.txt", r.out);
  auto stdin_run = Cli({"explain", "-", "--json"}, testing::ReadFileBytes(testing::TestdataPath("errored.body")));
  ASSERT_EQ(stdin_run.exit_code, 0) << stdin_run.err;
  EXPECT_TRUE(json::parse(stdin_run.out).at("would_trigger").as_array().empty());
  auto bad = Cli({"explain", "-"}, "not json");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("body: not valid JSON"), std::string::npos);
  EXPECT_EQ(*Store()->CountEvents(), 3);
}

TEST_F(CliTest, UnreachableDatabaseAndRudderStackNameTheCause) {
  auto db = RunCommand({"status", "--store", "sqlite://" + dir_.File("missing.db")});
  EXPECT_EQ(db.exit_code, 1);
  EXPECT_NE(db.err.find("cannot open the store"), std::string::npos) << db.err;
  EXPECT_FALSE(std::ifstream(dir_.File("missing.db")).good()) << "inspection never creates a database";
  auto api = Cli({"syncs", "conn_a"});
  EXPECT_EQ(api.exit_code, 1);
  EXPECT_NE(api.err.find("rudderstack GET /v2/retl-connections/conn_a/syncs"), std::string::npos) << api.err;
  EXPECT_EQ(api.err.find("cli-test-token"), std::string::npos) << "the token never appears";
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  for (std::vector<std::string> args : {std::vector<std::string>{"nonsense"}, {"events", "--limit", "0"},
                                        {"syncs"}, {"sync", "conn_a"}, {"stop"}, {"syncs", "c", "--status", "weird"}}) {
    auto r = RunCommand(args);
    EXPECT_EQ(r.exit_code, 2) << args[0];
  }
  auto help = RunCommand({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* cmd : {"serve", "sandbox", "check-config", "explain", "send-test", "status", "events", "event",
                          "replay", "dead", "retry", "trigger", "syncs", "sync", "stop"}) {
    EXPECT_NE(help.out.find(std::string("  ") + cmd + " "), std::string::npos) << cmd;
  }
}

// A newcomer's typo gets a suggestion; `help COMMAND` works; every --help ends with real
// examples; usage lines say retl-relay, not the binary's path.
TEST_F(CliTest, UnknownCommandsSuggestTheClosestAndHelpHasExamples) {
  auto typo = RunCommand({"serv"});
  EXPECT_EQ(typo.exit_code, 2);
  ExpectGolden("unknown_command.txt", typo.err);
  EXPECT_NE(RunCommand({"evnts"}).err.find("did you mean 'events'?"), std::string::npos);
  EXPECT_EQ(RunCommand({"frobnicate"}).err.find("did you mean"), std::string::npos) << "nothing close: no guess";
  auto help = RunCommand({"help", "events"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  ExpectGolden("help_events.txt", help.out);
  EXPECT_EQ(help.out, RunCommand({"events", "--help"}).out);
  EXPECT_EQ(RunCommand({"help"}).exit_code, 0);
  EXPECT_EQ(RunCommand({"help", "nope"}).exit_code, 2);
  for (const char* cmd : {"serve", "sandbox", "check-config", "explain", "send-test", "status", "events", "event",
                          "replay", "dead", "retry", "trigger", "syncs", "sync", "stop", "prune", "fake-rudderstack"}) {
    auto h = RunCommand({cmd, "--help"});
    EXPECT_EQ(h.exit_code, 0) << cmd;
    const size_t examples = h.out.find("Examples:\n  ");
    EXPECT_NE(examples, std::string::npos) << cmd;
    EXPECT_NE(h.out.find("retl-relay " + std::string(cmd), examples), std::string::npos) << cmd;
    EXPECT_NE(h.out.find("Usage: retl-relay " + std::string(cmd)), std::string::npos) << cmd << ": " << h.out.substr(0, 200);
  }
}

// One vocabulary: the config's outcome names work for send-test, and the old spellings are
// accepted everywhere with a note; --job-id everywhere.
TEST_F(CliTest, OneVocabularyForOutcomesAndJobIds) {
  auto printed = RunCommand({"send-test", "--print", "--status", "error"}, {{"DBT_WEBHOOK_SECRET", "test-secret"}});
  EXPECT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_NE(printed.out.find("\"runStatusCode\":20"), std::string::npos) << printed.out;
  auto old = RunCommand({"send-test", "--print", "--status", "errored"}, {{"DBT_WEBHOOK_SECRET", "test-secret"}});
  EXPECT_EQ(old.exit_code, 0);
  EXPECT_NE(old.err.find("read as error"), std::string::npos) << old.err;
  EXPECT_EQ(RunCommand({"send-test", "--print", "--status", "done"}, {{"DBT_WEBHOOK_SECRET", "test-secret"}}).exit_code, 2);
  EXPECT_EQ(Json({"events", "--job-id", "456"}).at("events").as_array().size(), 1u);
  EXPECT_EQ(Json({"events", "--job", "456"}).at("events").as_array().size(), 1u) << "the old flag stays an alias";
}

// check-config says exactly what serve would refuse, at once, and creates nothing.
TEST_F(CliTest, CheckConfigIsAsStrictAsServeAndSpeaksJson) {
  std::ofstream(dir_.File("listen.toml")) << "[server]\nlisten = \"0.0.0.0:80800\"\n[store]\nurl = \"sqlite://"
                                            << dir_.File("never.db") << "\"\n[rudderstack]\ntoken = \"test-token\"\n"
                                            << "[[route]]\nconnections = [\"c\"]\non = [\"errored\"]\n";
  auto bad = RunCommand({"check-config", "--config", dir_.File("listen.toml")});
  EXPECT_EQ(bad.exit_code, 1);
  ExpectGolden("check_config_problems.txt", bad.err);
  auto as_json = RunCommand({"check-config", "--config", dir_.File("listen.toml"), "--json"});
  EXPECT_EQ(as_json.exit_code, 1);
  auto v = json::parse(as_json.out);
  EXPECT_FALSE(v.at("ok").as_bool());
  EXPECT_EQ(v.at("problems").as_array().size(), 2u) << as_json.out;
  // serve refuses the same file before creating anything.
  auto serve = RunCommand({"serve", "--config", dir_.File("listen.toml")});
  EXPECT_EQ(serve.exit_code, 1);
  EXPECT_NE(serve.err.find("server.listen"), std::string::npos) << serve.err;
  struct stat st {};
  EXPECT_NE(::stat(dir_.File("never.db").c_str(), &st), 0) << "serve created the store before refusing";
  auto good = json::parse(RunCommand({"check-config", "--config", dir_.File("relay.toml"), "--json"}).out);
  EXPECT_TRUE(good.at("ok").as_bool());
  EXPECT_EQ(good.at("routes").as_array().size(), 2u);
  EXPECT_TRUE(good.at("rudderstack").at("token_set").as_bool());
  EXPECT_EQ(json::serialize(good).find("cli-test-token"), std::string::npos);
}

// syncs, sync and stop talk to RudderStack only: a missing store is no obstacle.
TEST_F(CliTest, RudderStackCommandsNeedNoStore) {
  for (std::vector<std::string> args : {std::vector<std::string>{"syncs", "conn_a"}, {"sync", "conn_a", "s_1"}, {"stop", "conn_a"}}) {
    args.insert(args.end(), {"--store", "sqlite://" + dir_.File("missing/none.db")});
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 1) << args[0];
    EXPECT_EQ(r.err.find("store"), std::string::npos) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("rudderstack"), std::string::npos) << args[0] << ": " << r.err;
  }
}

TEST_F(CliTest, PruneRemovesOldFinishedHistoryAndDryRunCountsIt) {
  // The golden store is dated 2026-01-01; everything final in it is older than 1 day.
  auto dry = Json({"prune", "--older-than", "1d", "--dry-run"});
  EXPECT_TRUE(dry.at("dry_run").as_bool());
  EXPECT_EQ(dry.at("events").as_int64(), 3);
  EXPECT_EQ(Json({"events"}).at("events").as_array().size(), 3u) << "a dry run removes nothing";
  auto r = Cli({"prune", "--older-than", "1d"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("removed"), std::string::npos);
  EXPECT_NE(r.out.find("3 events, 2 triggers"), std::string::npos) << r.out;
  EXPECT_TRUE(Json({"events"}).at("events").as_array().empty());
  EXPECT_EQ(Cli({"prune", "--older-than", "soon"}).exit_code, 2);
  EXPECT_EQ(Cli({"prune", "--older-than", "1h"}).exit_code, 2) << "under a day: dedupe history would go";
  EXPECT_EQ(Cli({"prune"}).exit_code, 2) << "--older-than is required";
}

TEST_F(CliTest, CheckConfigRedactsSecretsAndListsProblems) {
  auto ok = Cli({"check-config"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out.find("cli-test-token"), std::string::npos);
  EXPECT_NE(ok.out.find("full-nightly"), std::string::npos);
  std::ofstream(dir_.File("bad.toml")) << "[rudderstack]\ntoken = \"test-token\"\nregion = \"mars\"\n[[route]]\nname = \"a\"\n"
                                          "connections = []\n[[route]]\nname = \"a\"\nconnections = [\"c\"]\nsurprise = 1\n";
  auto bad = RunCommand({"check-config", "--config", dir_.File("bad.toml")});
  EXPECT_EQ(bad.exit_code, 1);
  for (const char* p : {"rudderstack.region", "route[0].connections", "route[1].name: duplicate", "route[1].surprise: unknown key"}) {
    EXPECT_NE(bad.err.find(p), std::string::npos) << p << " in " << bad.err;
  }
}

TEST_F(CliTest, WorldReadableConfigWithLiteralSecretsIsWarnedAbout) {
  const std::string path = dir_.File("open.toml");
  std::ofstream(path) << "[rudderstack]\ntoken = \"literal-rs-SECRET\"\n[dbt]\nwebhook_secret = \"literal-dbt-SECRET\"\n"
                      << "[store]\nurl = \"sqlite://" << dir_.File("relay.db") << "\"\n[[route]]\nconnections = [\"c\"]\n";
  chmod(path.c_str(), 0644);
  auto open = RunCommand({"check-config", "--config", path});
  EXPECT_EQ(open.exit_code, 0) << open.err;
  EXPECT_NE(open.err.find("warning: " + path + " is readable by every user (mode 0644)"), std::string::npos) << open.err;
  EXPECT_NE(open.err.find("rudderstack.token, dbt.webhook_secret"), std::string::npos) << open.err;
  EXPECT_EQ((open.out + open.err).find("SECRET"), std::string::npos);
  chmod(path.c_str(), 0600);
  EXPECT_EQ(RunCommand({"check-config", "--config", path}).err.find("warning"), std::string::npos);
}

TEST_F(CliTest, SecretsOnTheCommandLineAreWarnedAbout) {
  auto sent = RunCommand({"send-test", "--print", "--secret", "cmdline-SECRET"});
  EXPECT_NE(sent.err.find("visible in the process list"), std::string::npos) << sent.err;
  auto help = RunCommand({"fake-rudderstack", "--help"});
  EXPECT_NE(help.out.find("shows in ps"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace relay
